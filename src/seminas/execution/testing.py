"""Evaluators that misbehave on purpose, to test and measure executors.

They live in the package (not in ``tests/``) because worker processes -- local or Ray -- must be
able to import them by name. :class:`FaultyEvaluator` scores an architecture from a hash of its
id (deterministic, instant) unless a fault is planned for that query and attempt. Attempts are
counted with marker files in ``state_dir``, because successive attempts of one query may run in
different processes.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seminas.benchmarks.base import Evaluator, Record
from seminas.spaces.base import SearchSpace

# What an attempt does: ok, slow (ok after 2 s), raise, nan, hang (sleep until killed by the
# timeout), wait-kill (write the process id to ``pid-<query>`` and sleep until someone kills
# it), exit (the process dies at once, as on a segmentation fault).
ACTIONS = ("ok", "slow", "raise", "nan", "hang", "wait-kill", "exit")


def start_attempt(state_dir: Path, name: object) -> int:
    """Count a new attempt of ``name`` (a marker file, so every process sees it); its number."""
    n = 1
    while True:
        try:
            fd = os.open(state_dir / f"attempt-{name}-{n}", os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            n += 1
            continue
        os.close(fd)
        return n


def attempts(state_dir: Path, name: object) -> int:
    """How many attempts of ``name`` have started so far (in any process)."""
    return len(list(state_dir.glob(f"attempt-{name}-*")))


def act(action: str, pid_file: Path, what: str) -> None:
    """Do what a planned fault says (see :data:`ACTIONS`) for ``what`` (an attempt, in words):
    ``ok`` and ``slow`` return; the others raise, hang, write the process id to ``pid_file`` and
    wait to be killed, or end the process."""
    if action == "raise":
        raise RuntimeError(f"injected failure ({what})")
    if action == "hang":
        time.sleep(3600)
    if action == "wait-kill":
        pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
        pid_file.with_suffix(".tmp").rename(pid_file)
        time.sleep(3600)
    if action == "exit":
        os._exit(3)


def hashed_score(arch_id: str) -> float:
    """A deterministic pseudo accuracy in [50, 100) from an architecture id."""
    return 50.0 + 50.0 * int(hashlib.sha256(arch_id.encode()).hexdigest()[:8], 16) / 2**32


class FaultyEvaluator(Evaluator):
    """A synthetic evaluator with planned faults: ``faults[query] = [action of attempt 1, ...]``
    (attempts beyond the list are ``ok``); ``delay`` seconds per successful evaluation, ``slow``
    seconds more for a ``slow`` one."""

    search_metric_name = "synthetic score"
    report_metric_name = "synthetic score - 1"

    def __init__(
        self,
        space: SearchSpace,
        state_dir: str | os.PathLike,
        faults: Mapping[int, Sequence[str]] | None = None,
        delay: float = 0.0,
        slow: float = 2.0,
    ) -> None:
        super().__init__()
        self.space = space
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.faults = {int(k): list(v) for k, v in (faults or {}).items()}
        for actions in self.faults.values():
            for a in actions:
                if a not in ACTIONS:
                    raise ValueError(f"unknown fault {a!r} (known: {', '.join(ACTIONS)})")
        self.delay = float(delay)
        self.slow = float(slow)

    def attempts(self, query: int) -> int:
        """How many attempts of ``query`` have started so far (in any process)."""
        return attempts(self.state_dir, query)

    def _record(self, arch: Any) -> Record:
        arch_id = self.space.arch_id(arch)
        score = hashed_score(arch_id)
        return Record(arch_id, score, score - 1.0, cost_seconds=1.0, params=1)

    def _evaluate(self, arch: Any) -> Record:
        time.sleep(self.delay)
        return self._record(arch)

    def _evaluate_at(self, arch: Any, query: int) -> Record:
        n = start_attempt(self.state_dir, query)
        plan = self.faults.get(query, [])
        action = plan[n - 1] if n <= len(plan) else "ok"
        if action == "nan":
            record = self._record(arch)
            return Record(record.arch_id, float("nan"), None, cost_seconds=1.0)
        act(action, self.state_dir / f"pid-{query}", f"query {query}, attempt {n}")
        if action == "slow":
            time.sleep(self.slow)
        return self._evaluate(arch)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "space": self.space.name, "delay": self.delay}


class SleepEvaluator(Evaluator):
    """Sleeps ``seconds`` then returns the hashed score: a stand-in for an evaluation of known
    length, to measure what an executor itself costs."""

    search_metric_name = "synthetic score"

    def __init__(self, space: SearchSpace, seconds: float) -> None:
        super().__init__()
        self.space = space
        self.seconds = float(seconds)

    def _evaluate(self, arch: Any) -> Record:
        time.sleep(self.seconds)
        arch_id = self.space.arch_id(arch)
        score = hashed_score(arch_id)
        return Record(arch_id, score, score - 1.0, cost_seconds=self.seconds)
