"""The TTS supernet as an :class:`~seminas.benchmarks.base.Evaluator`: an architecture inherits
the supernet's weights and is scored by the diagonal focus rate (DFR) of its encoder-decoder
attention on validation utterances -- no test utterance is touched during the search.

Scoring as the paper code does (``valid_for_search`` with ``gta=False``): free-running decoding
for each utterance's true number of decoder steps (the stop token ignored), the attention of the
most focused (layer, head), DFR averaged over utterances. ``mode="teacher"`` scores a
teacher-forced pass instead (faster, and what a well-trained model's alignment looks like).

Between search iterations the supernet can train ``continue_steps`` more steps on paths drawn
from the pool of architectures evaluated so far (the paper code trains on its pool in every
iteration); :class:`~seminas.supernet.evaluator.SupernetBackend` calls :meth:`on_batch`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from seminas.benchmarks.base import Evaluator, Record
from seminas.spaces.tts import TTSArch, TTSSpace
from seminas.tts.alignment import alignment_scores
from seminas.tts.batch import TTSBatch
from seminas.tts.train import TTSTrainer


class TTSSupernetEvaluator(Evaluator):
    """Scores :class:`TTSSpace` architectures on a trained supernet (search metric: DFR)."""

    search_metric_name = "diagonal focus rate on validation utterances (supernet weights)"
    report_metric_name = "none during search (the pipeline trains the result from scratch)"

    def __init__(
        self,
        trainer: TTSTrainer,
        batches: Sequence[TTSBatch],
        mode: str = "free",
        continue_steps: int = 0,
        train_batches: Sequence[TTSBatch] = (),
        seed: int = 0,
        reward: tuple[float, float, float] = (0.0, 0.0, 1.0),
    ) -> None:
        super().__init__()
        self.space = TTSSpace()
        self.trainer = trainer
        self.batches = list(batches)
        self.mode = mode
        self.continue_steps = int(continue_steps)
        self.train_batches = list(train_batches)
        self.seed = int(seed)
        self.reward = tuple(float(w) for w in reward)
        self.pool: list[TTSArch] = []
        self.batches_seen = 0
        self.training_log: list[dict[str, Any]] = []
        self._next_train = 0

    def on_batch(self, archs: list[TTSArch]) -> None:
        """Before each batch after the first: ``continue_steps`` supernet steps on pool paths."""
        self.pool.extend(archs)
        if self.batches_seen > 0 and self.continue_steps > 0 and self.train_batches:
            start = time.perf_counter()
            rng = np.random.default_rng([self.seed, 41, self.batches_seen])
            losses = []
            for _ in range(self.continue_steps):
                batch = self.train_batches[self._next_train % len(self.train_batches)]
                self._next_train += 1
                arch = self.pool[int(rng.integers(len(self.pool)))]
                losses.append(self.trainer.train_step(batch, arch).loss)
            self.training_log.append({
                "before_batch": self.batches_seen, "steps": self.continue_steps,
                "pool": len(self.pool), "seconds": time.perf_counter() - start,
                "mean_loss": float(np.mean(losses)),
            })  # fmt: skip
        self.batches_seen += 1

    def scores(self, arch: TTSArch) -> dict[str, float]:
        return alignment_scores(self.trainer.model, arch, self.batches, self.mode, self.seed)

    def _evaluate(self, arch: TTSArch) -> Record:
        start = time.perf_counter()
        s = self.scores(arch)
        fr, cov, dfr = self.reward
        value = fr * s["focus_rate"] + cov * s["coverage"] + dfr * s["dfr"]
        return Record(
            arch_id=self.space.arch_id(arch),
            search_metric=float(value),
            report_metric=None,
            cost_seconds=time.perf_counter() - start,
            extra={**s, "supernet_step": self.trainer.step},
        )

    def describe(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "space": self.space.name,
            "mode": self.mode,
            "utterances": sum(len(b) for b in self.batches),
            "continue_steps": self.continue_steps,
            "reward_weights_focus_coverage_dfr": list(self.reward),
            "hidden": self.trainer.model.hidden,
            "reduction": self.trainer.model.reduction,
        }
