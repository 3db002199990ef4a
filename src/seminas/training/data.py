"""Image data for real training: loading, a deterministic validation split, augmentation.

Images are kept as ``uint8`` tensors (N x C x H x W) and converted to floats batch by batch, so a
10,000-image CIFAR subset costs 30 MB per worker instead of 120 MB. Three sources:

- ``"cifar10-10k"``: the CIFAR-10 subset of the shared data directory (``cifar10/cifar10-10k.npz``);
- a directory of the official CIFAR-10 *python* batches (``data_batch_1`` .. ``data_batch_5``,
  ``test_batch``). Those files are pickles; they are read with an unpickler that only accepts
  the dict/list/bytes/NumPy-array objects they contain, so a forged file cannot run code;
- an image folder in the ImageNet layout: ``train/<class>/*.jpg|png`` and optionally ``val/`` or
  ``test/`` with the same classes, every image resized to ``image_size`` (needs Pillow).

torchvision is deliberately not used: it is not installable on every machine this runs on.
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seminas.errors import DataNotFoundError, SeminasError
from seminas.progress import NO_PROGRESS, Progress

CIFAR10_SUBSET = "cifar10-10k"
CIFAR10_SUBSET_FILE = "cifar10/cifar10-10k.npz"
# Per-channel statistics of the CIFAR-10 training set (standard values), used for every source
# so that a network's input scale does not depend on which subset it was trained on.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclass
class ImageData:
    """A labelled image classification data set held in memory."""

    name: str
    x_train: torch.Tensor  # uint8, N x C x H x W
    y_train: torch.Tensor  # int64, N
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    classes: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def identity(self) -> str:
        """What names this data in a cache key: the source plus its size and shape."""
        test = 0 if self.x_test is None else len(self.x_test)
        c, h, w = self.image_shape
        return f"{self.name}|train={len(self.x_train)}|test={test}|{c}x{h}x{w}"


# -- loading ----------------------------------------------------------------------------------
def load_image_data(
    source: str,
    data_dir: str | os.PathLike | None = None,
    image_size: int | None = None,
    progress: Progress | None = None,
) -> ImageData:
    """Load ``source``: ``"cifar10-10k"``, a CIFAR-10 python-batch directory or an image folder.

    ``data_dir`` is the benchmark data directory (only for ``"cifar10-10k"``; default as
    :func:`seminas.data.data_dir`). ``image_size`` resizes an image folder (default 32);
    CIFAR sources are 32 x 32 and accept only that size (or ``None``). Reading an image folder
    (one file per image, the slow case) reports to ``progress``; silent by default.
    """
    if source == CIFAR10_SUBSET:
        data = _load_cifar_subset(data_dir)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise DataNotFoundError(
                f"unknown data source {source!r}: give {CIFAR10_SUBSET!r}, a directory of "
                f"the CIFAR-10 python batches, or an image folder with train/<class>/ images"
            )
        if not path.is_dir():
            raise SeminasError(
                f"data source {path} is a file: give a directory (CIFAR-10 python batches or an "
                f"image folder with train/<class>/ images)"
            )
        batches = _find_cifar_batches(path)
        if batches is not None:
            data = _load_cifar_batches(batches)
        elif (path / "train").is_dir():
            return _load_image_folder(path, image_size or 32, progress or NO_PROGRESS)
        else:
            raise SeminasError(
                f"{path} holds neither the CIFAR-10 python batches (data_batch_1 .. 5) nor an "
                f"image folder (train/<class>/*.png|jpg)"
            )
    if image_size is not None and image_size != data.x_train.shape[-1]:
        raise SeminasError(
            f"{data.name} images are {data.x_train.shape[-1]} pixels wide; --image-size "
            f"{image_size} applies to image folders only"
        )
    return data


def _load_cifar_subset(data_dir: str | os.PathLike | None) -> ImageData:
    from seminas.data import known_file

    path = known_file(CIFAR10_SUBSET_FILE, data_dir)
    with np.load(path, allow_pickle=False) as npz:
        x_train, y_train = npz["x_train"], npz["y_train"]
        x_test, y_test = npz["x_test"], npz["y_test"]
        classes = [str(c) for c in npz["class_names"]]
    return ImageData(
        name=CIFAR10_SUBSET,
        x_train=torch.from_numpy(np.ascontiguousarray(x_train.transpose(0, 3, 1, 2))),
        y_train=torch.from_numpy(y_train.astype(np.int64)),
        x_test=torch.from_numpy(np.ascontiguousarray(x_test.transpose(0, 3, 1, 2))),
        y_test=torch.from_numpy(y_test.astype(np.int64)),
        classes=classes,
    )


def _find_cifar_batches(path: Path) -> Path | None:
    for candidate in (path, path / "cifar-10-batches-py"):
        if (candidate / "data_batch_1").is_file():
            return candidate
    return None


class _BatchUnpickler(pickle.Unpickler):
    """Accepts only what the official CIFAR python batches contain: plain containers, bytes
    and NumPy arrays. Anything else (a forged file trying to call a function) is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = _BatchUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        data = np.asarray(raw[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(raw[b"labels"], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError) as exc:
        raise SeminasError(
            f"{path} is not a CIFAR-10 python batch ({exc.__class__.__name__}: {exc})"
        ) from None
    if len(data) != len(labels):
        raise SeminasError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data, labels


def _load_cifar_batches(root: Path) -> ImageData:
    xs, ys = [], []
    for i in range(1, 6):
        p = root / f"data_batch_{i}"
        if p.is_file():
            x, y = _read_batch(p)
            xs.append(x)
            ys.append(y)
    x_test = y_test = None
    if (root / "test_batch").is_file():
        xt, yt = _read_batch(root / "test_batch")
        x_test, y_test = torch.from_numpy(xt), torch.from_numpy(yt)
    classes = [str(i) for i in range(10)]
    meta = root / "batches.meta"
    if meta.is_file():
        try:
            raw = _BatchUnpickler(io.BytesIO(meta.read_bytes()), encoding="bytes").load()
            classes = [n.decode() for n in raw[b"label_names"]]
        except (pickle.UnpicklingError, KeyError, AttributeError, EOFError):
            pass
    return ImageData(
        name=f"cifar10-batches:{root.resolve()}",
        x_train=torch.from_numpy(np.concatenate(xs)),
        y_train=torch.from_numpy(np.concatenate(ys)),
        x_test=x_test,
        y_test=y_test,
        classes=classes,
    )


def _load_image_folder(root: Path, size: int, progress: Progress) -> ImageData:
    try:
        from PIL import Image
    except ImportError:
        raise SeminasError(
            f"reading the image folder {root} needs Pillow: pip install pillow"
        ) from None
    classes = sorted(d.name for d in (root / "train").iterdir() if d.is_dir())
    if not classes:
        raise SeminasError(f"{root / 'train'} has no class folders (train/<class>/*.png)")
    index = {c: i for i, c in enumerate(classes)}

    def files(split: Path) -> list[tuple[Path, int]]:
        out = []
        for c in sorted(d.name for d in split.iterdir() if d.is_dir()):
            if c not in index:
                raise SeminasError(f"{split / c}: class {c!r} is not among the train classes")
            for f in sorted((split / c).iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    out.append((f, index[c]))
        return out

    def read(items: list[tuple[Path, int]], what: str):
        x = np.empty((len(items), size, size, 3), dtype=np.uint8)
        progress.start(f"reading {what}", len(items), "images")
        for i, (f, _) in enumerate(items):
            try:
                with Image.open(f) as img:
                    img = img.convert("RGB").resize((size, size), Image.BILINEAR)
                    x[i] = np.asarray(img, dtype=np.uint8)
            except OSError as exc:
                raise SeminasError(f"cannot read image {f}: {exc}") from None
            progress.advance()
        progress.finish()
        y = np.asarray([label for _, label in items], dtype=np.int64)
        return torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)

    train_items = files(root / "train")
    if not train_items:
        raise SeminasError(f"{root / 'train'} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    test_dir = next((root / d for d in ("test", "val") if (root / d).is_dir()), None)
    x_train, y_train = read(train_items, "train images")
    x_test = y_test = None
    if test_dir is not None:
        test_items = files(test_dir)
        if test_items:
            x_test, y_test = read(test_items, f"{test_dir.name} images")
    return ImageData(
        name=f"folder:{root.resolve()}@{size}",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        classes=classes,
    )


# -- splitting and preprocessing --------------------------------------------------------------
def split_validation(
    data: ImageData, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hold out ``fraction`` of each class of the training set, the same way for a given seed.

    Stratified, so that a small subset still validates on every class. Returns index tensors
    ``(train_idx, val_idx)`` into ``data.x_train``, each sorted.
    """
    if not 0.0 < fraction < 1.0:
        raise SeminasError(f"validation fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    labels = data.y_train.numpy()
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(fraction * len(idx)))
        n_val = min(max(n_val, 1), len(idx) - 1) if len(idx) > 1 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return (
        torch.from_numpy(np.sort(np.concatenate(train))),
        torch.from_numpy(np.sort(np.concatenate(val))),
    )


def normalise(
    batch: torch.Tensor, mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD
) -> torch.Tensor:
    """uint8 images to floats with zero mean and unit variance per channel (the usual input)."""
    x = batch.float().div_(255.0)
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def augment(
    batch: torch.Tensor, generator: torch.Generator, padding: int = 4
) -> torch.Tensor:
    """The standard CIFAR augmentation: a random crop of the image padded by ``padding`` zero
    pixels, then a horizontal flip with probability 1/2; returns normalised floats.

    All randomness comes from ``generator``, so a training run is repeatable.
    """
    n, _, h, w = batch.shape
    x = normalise(batch)
    if padding > 0:
        # pad after normalising would turn black borders into the mean colour; pad with the
        # normalised value of a black pixel instead, as padding the raw image does
        black = normalise(torch.zeros(1, batch.shape[1], 1, 1, dtype=torch.uint8))
        padded = black.expand(n, -1, h + 2 * padding, w + 2 * padding).clone()
        padded[:, :, padding : padding + h, padding : padding + w] = x
        oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        rows = (oy[:, None] + torch.arange(h))[:, :, None]  # n x h x 1
        cols = (ox[:, None] + torch.arange(w))[:, None, :]  # n x 1 x w
        nhwc = padded.permute(0, 2, 3, 1)
        x = nhwc[torch.arange(n)[:, None, None], rows, cols].permute(0, 3, 1, 2)
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x.contiguous()
