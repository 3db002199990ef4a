"""Batches for supernet and final training, the same way on one process or many.

Two sources share one small interface (:class:`BatchSource`):

- :class:`TensorSource`: images held in memory as ``uint8`` (the CIFAR-10 subset, small image
  folders), augmented with :func:`seminas.training.data.augment`;
- :class:`FolderSource`: an ImageNet-layout folder (``train/<class>/*.JPEG``, optionally
  ``val/<class>/``) *streamed* from disk by a ``DataLoader`` with worker processes, with the usual
  ImageNet transforms (random-resized crop and flip for training; resize to 8/7 and centre crop
  for evaluation). ImageNet does not fit in memory; nothing here tries to hold it.

Distributed training: every rank draws the same permutation of the training images for an epoch
(seeded by the seed and the epoch) and takes its own slice of each global batch, so the ranks
together see each image once per epoch and all take the same number of steps. All randomness is
derived from the seed, the epoch and the rank or image index, never from worker scheduling.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from seminas.errors import SeminasError
from seminas.progress import Progress

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
Batch = tuple[torch.Tensor, torch.Tensor]


class BatchSource(Protocol):
    """What the supernet trainer and the scorer need from a data set."""

    num_classes: int
    image_size: int
    cifar: bool  # 32x32 images: the network uses the CIFAR strides

    def steps_per_epoch(self, global_batch: int) -> int: ...

    def train_batches(
        self, epoch: int, global_batch: int, seed: int, rank: int = 0, world: int = 1,
        start: int = 0,
    ) -> Iterator[Batch]: ...

    def calibration_batches(self, n_batches: int, batch_size: int, seed: int) -> list[torch.Tensor]:
        ...

    def heldout_batches(self, batch_size: int) -> Iterator[Batch]: ...


def _steps(n: int, global_batch: int) -> int:
    """Full global batches per epoch (at least one: a tiny smoke-test set still trains)."""
    return max(1, n // global_batch)


def _rank_slice(batch_positions: np.ndarray, rank: int, world: int) -> np.ndarray:
    per_rank = max(1, len(batch_positions) // world)
    return batch_positions[rank * per_rank : (rank + 1) * per_rank]


def _item_seed(seed: int, epoch: int, index: int) -> int:
    """A per-image, per-epoch transform seed (a fixed integer mix: no hash randomisation)."""
    return ((seed * 1_000_003 + epoch) * 2_654_435_761 + index * 40_503) % (2**31 - 1)


def _epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, 7, epoch]).permutation(n)


# -- in memory ----------------------------------------------------------------------------------
class TensorSource:
    """Training and held-out images in memory (``uint8`` N x C x H x W) with CIFAR augmentation."""

    def __init__(
        self,
        x_train: torch.Tensor,
        y_train: torch.Tensor,
        x_heldout: torch.Tensor,
        y_heldout: torch.Tensor,
        num_classes: int,
        augment: bool = True,
        channels_last: bool = True,
        x_test: torch.Tensor | None = None,
        y_test: torch.Tensor | None = None,
    ) -> None:
        if len(x_train) == 0 or len(x_heldout) == 0:
            raise SeminasError("supernet training needs training and held-out images")
        self.x_train, self.y_train = x_train, y_train
        self.x_heldout, self.y_heldout = x_heldout, y_heldout
        self.num_classes = int(num_classes)
        self.image_size = int(x_train.shape[-1])
        self.cifar = self.image_size <= 64
        self.augment = augment
        self.channels_last = channels_last
        self._heldout_cache: dict[int, list[Batch]] = {}
        self.x_test, self.y_test = x_test, y_test

    @classmethod
    def from_image_data(
        cls, data, train_idx: torch.Tensor, heldout_idx: torch.Tensor, **kwargs
    ) -> TensorSource:
        """From a :class:`seminas.training.data.ImageData` and a train/held-out split."""
        return cls(
            data.x_train[train_idx],
            data.y_train[train_idx],
            data.x_train[heldout_idx],
            data.y_train[heldout_idx],
            data.num_classes,
            x_test=data.x_test,
            y_test=data.y_test,
            **kwargs,
        )

    def _format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def steps_per_epoch(self, global_batch: int) -> int:
        return _steps(len(self.x_train), global_batch)

    def train_batches(
        self, epoch: int, global_batch: int, seed: int, rank: int = 0, world: int = 1,
        start: int = 0,
    ) -> Iterator[Batch]:
        from seminas.training.data import augment, normalise

        order = _epoch_order(len(self.x_train), seed, epoch)
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence(
            [seed, 11, epoch, rank]).generate_state(1)[0]))
        for b in range(self.steps_per_epoch(global_batch)):
            positions = order[b * global_batch : (b + 1) * global_batch]
            idx = torch.from_numpy(_rank_slice(positions, rank, world))
            raw = self.x_train[idx]
            x = augment(raw, generator) if self.augment else normalise(raw)
            if b >= start:  # skipped batches still advance the generator: resumable exactly
                yield self._format(x), self.y_train[idx]

    def calibration_batches(self, n_batches: int, batch_size: int, seed: int) -> list[torch.Tensor]:
        """Fixed, un-augmented training batches for batch-norm recalibration."""
        from seminas.training.data import normalise

        order = np.random.default_rng([seed, 13]).permutation(len(self.x_train))
        out = []
        for b in range(n_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            if len(idx) == 0:
                break
            out.append(self._format(normalise(self.x_train[torch.from_numpy(idx)])))
        return out

    def heldout_batches(self, batch_size: int) -> Iterator[Batch]:
        from seminas.training.data import normalise

        if batch_size not in self._heldout_cache:  # normalised once: scoring repeats it often
            self._heldout_cache[batch_size] = [
                (
                    self._format(normalise(self.x_heldout[i : i + batch_size])),
                    self.y_heldout[i : i + batch_size],
                )
                for i in range(0, len(self.x_heldout), batch_size)
            ]
        yield from self._heldout_cache[batch_size]

    def test_batches(self, batch_size: int) -> Iterator[Batch]:
        """The test split (empty when the data has none): for reporting, never for search."""
        from seminas.training.data import normalise

        if self.x_test is None or self.y_test is None:
            return
        for i in range(0, len(self.x_test), batch_size):
            yield self._format(normalise(self.x_test[i : i + batch_size])), self.y_test[
                i : i + batch_size
            ]


# -- streamed image folder (ImageNet) -------------------------------------------------------------
def list_image_folder(root: str | Path, split: str = "train") -> tuple[list[tuple[str, int]],
                                                                        list[str]]:
    """``(path, label)`` of every image under ``root/split/<class>/`` and the sorted classes."""
    base = Path(root).expanduser() / split
    if not base.is_dir():
        raise SeminasError(f"{base} is not a directory: an image folder needs {split}/<class>/")
    classes = sorted(d.name for d in base.iterdir() if d.is_dir())
    if not classes:
        raise SeminasError(f"{base} has no class folders ({split}/<class>/*.JPEG)")
    items = []
    for label, c in enumerate(classes):
        for f in sorted((base / c).iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                items.append((str(f), label))
    if not items:
        raise SeminasError(f"{base} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return items, classes


def _load_rgb(path: str):
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except OSError as exc:
        raise SeminasError(f"cannot read image {path}: {exc}") from None


def _to_tensor(img) -> torch.Tensor:
    arr = np.asarray(img, dtype=np.float32) / 255.0
    x = torch.from_numpy(arr.transpose(2, 0, 1).copy())
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def random_resized_crop(img, size: int, rng: np.random.Generator, scale=(0.08, 1.0)):
    """Inception-style crop: a random area fraction in ``scale`` and aspect ratio in
    [3/4, 4/3], resized to ``size``; the whole image, centre-cropped, if 10 tries fail."""
    from PIL import Image

    w, h = img.size
    area = w * h
    for _ in range(10):
        target = area * rng.uniform(*scale)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw = int(round(math.sqrt(target * ratio)))
        ch = int(round(math.sqrt(target / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            x0 = int(rng.integers(0, w - cw + 1))
            y0 = int(rng.integers(0, h - ch + 1))
            return img.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    return img.resize((size, size), Image.BILINEAR, box=box)


def center_crop(img, size: int):
    """Resize the shorter side to ``size * 8 / 7`` (256 for 224), then crop the centre."""
    from PIL import Image

    w, h = img.size
    short = int(round(size * 8 / 7))
    if w < h:
        nw, nh = short, int(round(h * short / w))
    else:
        nw, nh = int(round(w * short / h)), short
    img = img.resize((nw, nh), Image.BILINEAR)
    x0, y0 = (nw - size) // 2, (nh - size) // 2
    return img.crop((x0, y0, x0 + size, y0 + size))


class _FolderDataset(torch.utils.data.Dataset):
    """Items are ``(index, seed)`` pairs from the sampler: the transform's randomness is a
    function of the seed alone, whichever worker loads the image."""

    def __init__(self, items: Sequence[tuple[str, int]], size: int, train: bool) -> None:
        self.items, self.size, self.train = list(items), size, train

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, 0)
        path, label = self.items[index]
        img = _load_rgb(path)
        if self.train:
            rng = np.random.default_rng(seed)
            img = random_resized_crop(img, self.size, rng)
            if rng.random() < 0.5:
                from PIL import Image

                img = img.transpose(Image.FLIP_LEFT_RIGHT)
        else:
            img = center_crop(img, self.size)
        return _to_tensor(img), label


class FolderSource:
    """An ImageNet-layout folder streamed from disk; ``heldout`` images of ``train/`` (a count,
    or a fraction) are set aside, stratified by class, to score architectures."""

    def __init__(
        self,
        root: str | Path,
        image_size: int = 224,
        heldout: float | int = 50_000,
        seed: int = 0,
        workers: int = 8,
        channels_last: bool = True,
    ) -> None:
        items, classes = list_image_folder(root, "train")
        self.root = Path(root).expanduser()
        self.classes = classes
        self.num_classes = len(classes)
        self.image_size = int(image_size)
        self.cifar = self.image_size <= 64
        self.workers = int(workers)
        self.channels_last = channels_last
        labels = np.asarray([label for _, label in items])
        n_held = heldout if heldout >= 1 else heldout * len(items)
        fraction = min(max(float(n_held) / len(items), 0.0), 0.5)
        rng = np.random.default_rng([seed, 17])
        held, train = [], []
        for c in range(self.num_classes):
            idx = np.flatnonzero(labels == c)
            idx = idx[rng.permutation(len(idx))]
            k = int(round(fraction * len(idx)))
            if fraction > 0:  # heldout 0: train on everything (a final network)
                k = min(max(k, 1), len(idx) - 1) if len(idx) > 1 else 0
            held.extend(idx[:k].tolist())
            train.extend(idx[k:].tolist())
        self.train_items = [items[i] for i in sorted(train)]
        self.heldout_items = [items[i] for i in sorted(held)]
        if not self.train_items or (fraction > 0 and not self.heldout_items):
            raise SeminasError(f"{root}: too few images to hold some out for scoring")
        self.test_items: list[tuple[str, int]] = []
        for split in ("val", "test"):
            if (self.root / split).is_dir():
                test_items, test_classes = list_image_folder(self.root, split)
                if test_classes != classes:
                    raise SeminasError(f"{self.root / split}: classes differ from train/")
                self.test_items = test_items
                break

    def _loader(self, dataset, keys, batch_size: int) -> Iterator[Batch]:
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=keys, num_workers=self.workers,
            pin_memory=torch.cuda.is_available(), persistent_workers=False,
        )
        for x, y in loader:
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y

    def steps_per_epoch(self, global_batch: int) -> int:
        return _steps(len(self.train_items), global_batch)

    def train_batches(
        self, epoch: int, global_batch: int, seed: int, rank: int = 0, world: int = 1,
        start: int = 0,
    ) -> Iterator[Batch]:
        order = _epoch_order(len(self.train_items), seed, epoch)
        steps = self.steps_per_epoch(global_batch)
        keys, local = [], None
        for b in range(start, steps):
            part = _rank_slice(order[b * global_batch : (b + 1) * global_batch], rank, world)
            local = len(part)
            keys.extend((int(i), _item_seed(seed, epoch, int(i))) for i in part)
        if not keys:
            return
        dataset = _FolderDataset(self.train_items, self.image_size, train=True)
        yield from self._loader(dataset, keys, local or 1)

    def calibration_batches(self, n_batches: int, batch_size: int, seed: int) -> list[torch.Tensor]:
        order = np.random.default_rng([seed, 13]).permutation(len(self.train_items))
        keys = [int(i) for i in order[: n_batches * batch_size]]
        dataset = _FolderDataset(self.train_items, self.image_size, train=False)
        return [x for x, _ in self._loader(dataset, keys, batch_size)]

    def heldout_batches(self, batch_size: int) -> Iterator[Batch]:
        dataset = _FolderDataset(self.heldout_items, self.image_size, train=False)
        yield from self._loader(dataset, list(range(len(self.heldout_items))), batch_size)

    def test_batches(self, batch_size: int) -> Iterator[Batch]:
        dataset = _FolderDataset(self.test_items, self.image_size, train=False)
        yield from self._loader(dataset, list(range(len(self.test_items))), batch_size)


@dataclass(frozen=True)
class DataSpec:
    """How to (re)open a data set in any process: picklable, so DDP workers rebuild the source."""

    source: str = "cifar10-10k"  # "cifar10-10k", a CIFAR batches dir, or an image folder
    data_dir: str | None = None
    image_size: int | None = None
    heldout: float = 0.1  # fraction (or count, if >= 1) of the training images held out
    seed: int = 0  # the split's seed
    stream: bool = False  # stream an image folder from disk (ImageNet) instead of loading it
    workers: int = 8  # data-loading processes when streaming

    def open(self, progress: Progress | None = None) -> BatchSource:
        """The batches; an image folder read into memory reports to ``progress``."""
        if self.stream:
            return FolderSource(
                self.source, self.image_size or 224, self.heldout, self.seed, self.workers
            )
        data, train_idx, held_idx = self.load(progress)
        return TensorSource.from_image_data(data, train_idx, held_idx)

    def load(self, progress: Progress | None = None):
        """(ImageData, train indices, held-out indices) for in-memory data."""
        from seminas.training.data import load_image_data, split_validation

        data = load_image_data(self.source, self.data_dir, self.image_size, progress)
        fraction = self.heldout if self.heldout < 1 else self.heldout / len(data.x_train)
        train_idx, held_idx = split_validation(data, fraction, self.seed)
        return data, train_idx, held_idx


def check_data_source(source: str, data_dir: str | None = None) -> None:
    """A one-line error now, rather than in a worker later, if ``source`` cannot be found."""
    from seminas.data import data_dir as resolve

    if source == "cifar10-10k":
        from seminas.data import known_file

        known_file("cifar10/cifar10-10k.npz", data_dir)
        return
    path = Path(source).expanduser()
    if not path.exists():
        raise SeminasError(
            f"data path {source!r} does not exist: give cifar10-10k (the subset in "
            f"{resolve(data_dir) / 'cifar10'}), a CIFAR-10 python-batch directory or an "
            f"ImageNet-layout image folder (train/<class>/*.JPEG)"
        )
    if not path.is_dir():
        raise SeminasError(f"data path {source!r} is a file: give a directory")
