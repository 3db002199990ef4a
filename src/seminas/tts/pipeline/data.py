"""The corpus as the pipeline sees it: read and checked, split, its features cached under the
run's directory, and the batches each stage takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seminas.progress import NO_PROGRESS, Progress
from seminas.tts.batch import TTSBatch
from seminas.tts.features import FeatureSet, Item
from seminas.tts.pipeline.config import TTSPipelineConfig, corpus_path
from seminas.tts.robustness import HardInput, robustness_set

_OPEN: dict[tuple[str, str], PipelineData] = {}


@dataclass
class PipelineData:
    features: FeatureSet
    root: Path

    @property
    def vocab_size(self) -> int:
        from seminas.tts.text import vocab_size

        return vocab_size

    @property
    def n_mels(self) -> int:
        return self.features.n_mels

    def describe(self) -> str:
        s = self.features.splits
        return (f"corpus {self.root} ({len(s.train)} training, {len(s.validation)} validation, "
                f"{len(s.test)} test utterances)")  # fmt: skip

    def batches_per_epoch(self, batch_size: int) -> int:
        return -(-len(self.features.splits.train) // batch_size)

    def train_batches(self, batch_size: int, seed: int) -> list[TTSBatch]:
        return self.features.batches(self.features.split("train"), batch_size, seed)

    def validation_batches(self, n: int | None, batch_size: int) -> list[TTSBatch]:
        """The first ``n`` validation utterances (all if None), in a fixed order."""
        items = self.features.split("validation")[:n]
        return self.features.batches(items, batch_size, shuffle=False)

    def test_items(self, n: int | None = None) -> list[Item]:
        return self.features.split("test")[:n]

    def hard_inputs(self) -> list[HardInput]:
        test = [(it.id, it.text, it.mel.shape[0]) for it in self.test_items()]
        return robustness_set(test)


def open_data(
    cfg: TTSPipelineConfig, out: Path, progress: Progress | None = None
) -> PipelineData:
    """The run's data, read once per process; the features are cached under the seminas cache
    directory (``$SEMINAS_CACHE``, ``~/.cache/seminas``: ``tts/``), keyed by the corpus's files
    and the settings, so every run on a corpus shares them."""
    from seminas.data import cache_dir
    from seminas.tts.corpus import read_corpus, split_corpus

    root = corpus_path(cfg)
    key = (str(root.resolve()), f"{cfg.utterances}-{cfg.resample}-{cfg.seed}")
    if key not in _OPEN:
        corpus = read_corpus(root, resample=cfg.resample)
        splits = split_corpus(corpus, cfg.utterances, cfg.seed)
        features = FeatureSet(corpus, splits, cache_dir() / "tts", progress=progress or NO_PROGRESS)
        _OPEN.clear()
        _OPEN[key] = PipelineData(features, root)
    return _OPEN[key]
