"""The pipeline end to end: the three stages in order, each resumed from what is stored, then
the results assembled and written (``results.json``, ``results.md``) with wall and CPU times."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError
from seminas.experiments.store import atomic_write_text
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.mobilenet import format_flops
from seminas.supernet.pipeline.config import PipelineConfig, validate_config
from seminas.supernet.pipeline.report import assemble, render_markdown
from seminas.supernet.pipeline.scratch import stage_scratch
from seminas.supernet.pipeline.stages import stage_search, stage_supernet
from seminas.supernet.pipeline.store import (
    CONFIG_JSON,
    RESULTS_JSON,
    RESULTS_MD,
    read_json,
    write_json,
)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (DDP ranks, training workers).

    On a shared machine wall time depends on everyone else's load; CPU time divided by the
    cores used says what the run costs on an otherwise idle machine.
    """
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def run_pipeline(
    cfg: PipelineConfig,
    out_dir: str | os.PathLike,
    progress: Progress | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the pipeline into ``out_dir``; returns the results (also written as
    ``results.json`` and ``results.md``). Each stage's steps report to ``progress``; ``log``
    receives one line as each stage begins (both silent by default)."""
    progress = progress or NO_PROGRESS
    say = log or (lambda text: None)
    space = validate_config(cfg)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    kept = read_json(out / CONFIG_JSON)
    if kept is not None and kept != json.loads(json.dumps(cfg.to_dict())):
        raise SeminasError(
            f"{out} holds a pipeline run with a different configuration: give another --out "
            f"(or delete {out})"
        )
    write_json(out / CONFIG_JSON, cfg.to_dict())
    wall0 = time.perf_counter()
    cpu0 = cpu_seconds()
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}

    t, c = time.perf_counter(), cpu_seconds()
    say(f"1/3 supernet: {cfg.supernet_epochs} epochs on {cfg.processes} process(es), width "
        f"x{cfg.width_mult}, FLOPs limit "
        f"{'none' if space.max_flops is None else format_flops(space.max_flops)}")
    supernet = stage_supernet(cfg, out, progress)
    times["supernet"] = time.perf_counter() - t
    cpu["supernet"] = cpu_seconds() - c

    t, c = time.perf_counter(), cpu_seconds()
    say(f"2/3 search: SemiNAS ({cfg.preset}), {cfg.budget} architectures scored on the "
        f"supernet, {cfg.continue_steps} supernet steps between iterations")
    search = stage_search(cfg, out, progress)
    times["search"] = time.perf_counter() - t
    cpu["search"] = cpu_seconds() - c

    t, c = time.perf_counter(), cpu_seconds()
    comparison = search["comparison"]
    say(f"3/3 from scratch: {len(comparison)} architectures, {cfg.scratch_epochs} epochs each")
    scratch = stage_scratch(cfg, out, comparison, progress)
    times["from_scratch"] = time.perf_counter() - t
    cpu["from_scratch"] = cpu_seconds() - c
    times["total_this_session"] = time.perf_counter() - wall0
    cpu["total_this_session"] = cpu_seconds() - cpu0

    results = assemble(cfg, space, supernet, search, comparison, scratch, times, command)
    results["cpu_seconds_this_session"] = cpu
    write_json(out / RESULTS_JSON, results)
    atomic_write_text(out / RESULTS_MD, render_markdown(results))
    return results
