"""A bench's work with planned faults, to test a bench's fault handling.

It lives in the package (not in ``tests/``) because worker processes -- local or Ray -- must be
able to import it by name. Attempts are counted with marker files in ``state_dir``, because
successive attempts of one run may go to different processes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seminas.execution.base import Job
from seminas.execution.testing import ACTIONS, act, attempts, start_attempt
from seminas.experiments.bench.specs import RunSpec
from seminas.experiments.bench.work import BenchWork


class FaultyBenchWork(BenchWork):
    """:class:`BenchWork` whose run of seed ``s`` does ``faults[s][k]`` on its attempt ``k + 1``
    (an action of :data:`seminas.execution.testing.ACTIONS`; attempts beyond the list run
    normally). ``wait-kill`` writes the process id to ``state_dir/pid-<seed>``."""

    def __init__(
        self,
        specs: Sequence[RunSpec],
        state_dir: str | os.PathLike,
        faults: Mapping[int, Sequence[str]],
    ) -> None:
        super().__init__(specs)
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.faults = {int(k): list(v) for k, v in faults.items()}
        for plan in self.faults.values():
            for action in plan:
                if action not in ACTIONS or action in ("nan", "slow"):
                    raise ValueError(f"not a fault of a bench run: {action!r}")

    def attempts(self, seed: int) -> int:
        """How many attempts of the run of ``seed`` have started (in any process)."""
        return attempts(self.state_dir, seed)

    def run(self, job: Job) -> dict[str, Any]:
        seed = int(job.payload.seed)
        n = start_attempt(self.state_dir, seed)
        plan = self.faults.get(seed, [])
        action = plan[n - 1] if n <= len(plan) else "ok"
        act(action, self.state_dir / f"pid-{seed}", f"seed {seed}, attempt {n}")
        return super().run(job)
