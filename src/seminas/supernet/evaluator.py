"""The supernet as an :class:`~seminas.benchmarks.base.Evaluator`, and the hook that keeps
training it between search iterations.

A query costs seconds instead of a training run: the architecture inherits the supernet's
weights, its batch norms are recalibrated, and its held-out accuracy is the search metric. No
test data is touched during the search, so the report metric is missing (``None``); the pipeline
trains the chosen architecture from scratch to report one.

:class:`SupernetBackend` is an :class:`~seminas.strategies.base.EvaluationBackend`: it sees each
batch a strategy submits before any of it is scored, so it can first train the supernet for a
few more steps on paths from the current pool (the SemiNAS schedule) -- with no change to the
strategy or the search loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from seminas.benchmarks.base import Evaluator, Record
from seminas.spaces.mobilenet import MobileNetArch, MobileNetSpace, NetworkShape, flops
from seminas.supernet.model import MobileNet, count_params
from seminas.supernet.train import Scorer, SupernetTrainer, pool_sampler, uniform_sampler


class SupernetEvaluator(Evaluator):
    """Scores architectures of a (FLOPs-constrained) :class:`MobileNetSpace` on a supernet.

    ``continue_steps`` steps of supernet training run before every batch after the first
    (:meth:`on_batch`), sampling paths ``"pool"`` (uniformly from every architecture evaluated
    so far plus the new batch, as the paper) or ``"uniform"`` (from the whole space).
    """

    search_metric_name = "supernet held-out accuracy (%), batch norm recalibrated"
    report_metric_name = "none during search (the pipeline trains the result from scratch)"

    def __init__(
        self,
        space: MobileNetSpace,
        trainer: SupernetTrainer,
        scorer: Scorer,
        continue_steps: int = 0,
        sampling: str = "pool",
        on_training: Callable[[str, int, int], None] | None = None,
    ) -> None:
        super().__init__()
        if sampling not in ("pool", "uniform"):
            raise ValueError(f"sampling must be 'pool' or 'uniform', got {sampling!r}")
        self.space = space
        self.trainer = trainer
        self.scorer = scorer
        self.continue_steps = int(continue_steps)
        self.sampling = sampling
        self.pool: list[MobileNetArch] = []
        self.batches_seen = 0
        self.training_log: list[dict[str, Any]] = []
        self._on_training = on_training

    @property
    def supernet(self) -> MobileNet:
        return self.trainer.model

    def on_batch(self, archs: list[MobileNetArch]) -> None:
        """A new batch is about to be scored: grow the pool and, after the first batch, train
        the supernet ``continue_steps`` more steps."""
        self.pool.extend(archs)
        if self.batches_seen > 0 and self.continue_steps > 0:
            sampler = (
                pool_sampler(self.pool) if self.sampling == "pool"
                else uniform_sampler(self.space)
            )
            start = time.perf_counter()
            done = 0

            def progress(step: int, stats: dict[str, float]) -> None:
                nonlocal done
                done += 1
                if self._on_training is not None:
                    self._on_training("supernet", done, self.continue_steps)

            stats = self.trainer.train_steps(self.continue_steps, sampler, progress)
            self.training_log.append(
                {
                    "before_batch": self.batches_seen,
                    "steps": self.continue_steps,
                    "pool": len(self.pool),
                    "seconds": time.perf_counter() - start,
                    **stats,
                }
            )
        self.batches_seen += 1

    def _evaluate(self, arch: MobileNetArch) -> Record:
        start = time.perf_counter()
        acc = self.scorer.score(self.supernet, arch)
        return Record(
            arch_id=self.space.arch_id(arch),
            search_metric=acc,
            report_metric=None,
            cost_seconds=time.perf_counter() - start,
            params=count_params(self.supernet, arch),
            extra={
                "flops": self.space.flops(arch),
                "network_flops": flops(arch, self.supernet.shape),
                "supernet_step": self.trainer.step,
            },
        )

    def describe(self) -> dict[str, Any]:
        shape: NetworkShape = self.supernet.shape
        return {
            "class": type(self).__name__,
            "space": self.space.name,
            "max_flops": self.space.max_flops,
            "widths": list(shape.widths),
            "resolution": shape.resolution,
            "continue_steps": self.continue_steps,
            "sampling": self.sampling,
            "recalibrate_bn": self.scorer.recalibrate,
        }


class SupernetBackend:
    """Evaluation backend that calls :meth:`SupernetEvaluator.on_batch` before each batch."""

    def evaluate(self, ctx, batch) -> Iterator[Record]:
        evaluator: SupernetEvaluator = ctx.evaluator
        evaluator.on_batch([c.arch for c in batch])
        for c in batch:
            yield evaluator.evaluate(c.arch, query=c.number)
