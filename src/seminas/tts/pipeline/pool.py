"""Independent jobs of the TTS pipeline (from-scratch trainings, measurements) on a pool of
processes, one thread each; each finished job is handed back at once so the caller can store
it, and a worker reports its steps through a queue for the progress display."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

import torch

from seminas.progress import Progress


def _init_worker(parent: int) -> None:
    from seminas.lifecycle import die_with_parent

    die_with_parent(parent)  # a kill -9 of the pipeline must not leave workers running
    torch.set_num_threads(1)


def run_parallel(
    jobs: dict[int, tuple[Callable[..., Any], tuple[Any, ...]]],
    processes: int,
    finished: Callable[[int, Any], None],
    progress: Progress,
    label: Callable[[int], str],
) -> None:
    """Run ``fn(*args, queue)`` for every job; ``finished(key, result)`` as each one ends."""
    if not jobs:
        return
    context = torch.multiprocessing.get_context("spawn")
    from seminas.lifecycle import start_manager

    with start_manager(context) as manager, ProcessPoolExecutor(
        max_workers=min(processes, len(jobs)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(os.getpid(),),
    ) as pool:
        queue = manager.Queue()
        futures = {pool.submit(fn, *args, queue): key for key, (fn, args) in jobs.items()}
        steps: dict[int, tuple[int, int]] = {}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            while not queue.empty():
                key, done_steps, total = queue.get()
                steps[key] = (done_steps, total)
            for future in done:
                key = futures[future]
                finished(key, future.result())
                steps.pop(key, None)
            running = ", ".join(f"{label(k)} {d}/{t}" for k, (d, t) in sorted(steps.items()))
            progress.advance(len(done), running)
