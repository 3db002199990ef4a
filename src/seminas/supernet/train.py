"""Path-sampling supernet training, batch-norm recalibration and held-out scoring.

Training (single-path one-shot): each step draws one architecture -- uniformly from the
(FLOPs-constrained) space, or uniformly from a pool of architectures as SemiNAS does between
search iterations -- and trains only that path on one batch. Unused candidates get no gradient
and, with SGD, no weight decay or momentum update either.

Scoring: an architecture inherits the supernet's weights. The running batch-norm statistics the
supernet accumulated mix every path that went through a layer, so before scoring, the path's
batch norms are reset and re-estimated on a few fixed training batches (a cumulative average,
no gradients); the SemiNAS code skipped this. Then the path is evaluated on held-out training
images. The score is deterministic: it depends on the weights and the architecture only, not on
what was scored before.

Distributed: :func:`init_distributed` reads the ``torchrun`` environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``) and joins the process group (NCCL on
GPUs, gloo on CPUs). The supernet is wrapped in ``DistributedDataParallel`` with
``find_unused_parameters`` (each step leaves most candidates unused); every rank draws the same
path from the same seeded generator and its own slice of each global batch, so gradients are
averaged over the global batch and the replicas stay identical. Rank 0 writes checkpoints.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from seminas.errors import SeminasError
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.mobilenet import MobileNetArch, MobileNetSpace, NetworkShape
from seminas.supernet.data import BatchSource
from seminas.supernet.model import MobileNet, strip_ddp_prefix

CHECKPOINT_FORMAT = 1


# -- distributed set-up --------------------------------------------------------------------------
@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly one-process) job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(backend: str | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` (or :func:`spawn_local`) describes in the
    environment; a plain single process when ``WORLD_SIZE`` is unset or 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    cuda = torch.cuda.is_available()
    device = f"cuda:{local}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(local)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
    return DistInfo(rank, world, local, device)


def close_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# -- recipe --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SupernetRecipe:
    """How the supernet (or, with a fixed path, a final network) is trained."""

    epochs: float = 1.0  # may be fractional on tiny budgets
    batch_size: int = 128  # global: split over the ranks
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    warmup_epochs: float = 0.0
    grad_clip: float = 5.0  # 0 = off

    def __post_init__(self) -> None:
        if not self.epochs > 0:
            raise SeminasError(f"supernet epochs must be positive, got {self.epochs}")
        if int(self.batch_size) < 1:
            raise SeminasError(f"batch size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            raise SeminasError(f"learning rate must be positive, got {self.lr}")


# -- path samplers -------------------------------------------------------------------------------
PathSampler = Callable[[np.random.Generator], MobileNetArch]


def uniform_sampler(space: MobileNetSpace) -> PathSampler:
    """One path per step, uniformly over the space (feasible ones only, if constrained)."""
    return space.sample_one


def pool_sampler(pool: Sequence[MobileNetArch]) -> PathSampler:
    """One path per step, uniformly from ``pool`` (SemiNAS: the current architecture pool)."""
    archs = list(pool)
    if not archs:
        raise ValueError("empty architecture pool")
    return lambda rng: archs[int(rng.integers(len(archs)))]


# -- the trainer ---------------------------------------------------------------------------------
class SupernetTrainer:
    """Trains a :class:`MobileNet` (supernet or standalone) step by step, resumably.

    The learning rate follows a cosine from ``recipe.lr`` to 0 over ``total_steps`` (after an
    optional linear warm-up); steps beyond that (continued training) use the final 1% of it.
    """

    def __init__(
        self,
        model: MobileNet,
        source: BatchSource,
        recipe: SupernetRecipe,
        seed: int = 0,
        info: DistInfo | None = None,
        total_steps: int | None = None,
    ) -> None:
        self.info = info or DistInfo()
        self.model = model.to(self.info.device).use_channels_last()
        self.source = source
        self.recipe = recipe
        self.seed = int(seed)
        self.steps_per_epoch = source.steps_per_epoch(recipe.batch_size)
        self.total_steps = int(
            total_steps or max(1, math.ceil(recipe.epochs * self.steps_per_epoch))
        )
        self.step = 0
        self.path_rng = np.random.default_rng([self.seed, 3])  # identical on every rank
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov and recipe.momentum > 0,
            weight_decay=recipe.weight_decay,
        )
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self.wrapped: nn.Module = self.model
        if self.info.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.info.local_rank] if self.info.device.startswith("cuda") else None
            # a supernet step leaves most candidates unused; a standalone network uses all
            self.wrapped = DDP(
                self.model, device_ids=ids, find_unused_parameters=self.model.is_supernet
            )
        self._epoch = 0
        self._offset = 0
        self._batches = None

    def lr_at(self, step: int) -> float:
        r = self.recipe
        warm = int(r.warmup_epochs * self.steps_per_epoch)
        if step < warm:
            return r.lr * (step + 1) / warm
        span = max(1, self.total_steps - warm)
        t = min(step - warm, span - 1) / span
        return 0.5 * r.lr * (1.0 + math.cos(math.pi * t))

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        while True:
            if self._batches is None:
                self._batches = self.source.train_batches(
                    self._epoch, self.recipe.batch_size, self.seed,
                    self.info.rank, self.info.world_size, start=self._offset,
                )
            try:
                batch = next(self._batches)
                self._offset += 1
                return batch
            except StopIteration:
                self._batches = None
                self._epoch += 1
                self._offset = 0

    def train_steps(
        self,
        n: int,
        sampler: PathSampler | None = None,
        progress: Callable[[int, dict[str, float]], None] | None = None,
    ) -> dict[str, float]:
        """``n`` optimisation steps, each on one path from ``sampler`` (the model's own
        architecture when it is a standalone network). Returns mean loss and accuracy (%)."""
        self.model.train()
        loss_sum = correct = seen = 0.0
        for _ in range(int(n)):
            arch = sampler(self.path_rng) if sampler is not None else self.model.arch
            x, y = self._next_batch()
            x, y = x.to(self.info.device, non_blocking=True), y.to(self.info.device)
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.step)
            logits = self.wrapped(x, arch=arch)
            loss = self.loss_fn(logits, y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {float(loss)} at step {self.step}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.recipe.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.grad_clip)
            self.optimizer.step()
            self.step += 1
            loss_sum += float(loss.detach()) * len(y)
            correct += float((logits.detach().argmax(1) == y).sum())
            seen += len(y)
            if progress is not None:
                progress(self.step, {"loss": loss_sum / seen, "acc": 100.0 * correct / seen})
        return {"loss": loss_sum / max(seen, 1), "acc": 100.0 * correct / max(seen, 1)}

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": strip_ddp_prefix(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "total_steps": self.total_steps,
            "epoch": self._epoch,
            "offset": self._offset,
            "path_rng": _rng_state(self.path_rng),
            "shape": asdict(self.model.shape),
            "arch": None if self.model.arch is None else list(self.model.arch.ops),
            "sharing": self.model.sharing,
            "recipe": asdict(self.recipe),
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self._epoch, self._offset = int(state["epoch"]), int(state["offset"])
        self._batches = None
        self.path_rng = _rng_from_state(state["path_rng"])

    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint (rank 0 only; other ranks return at once). Atomic."""
        if not self.info.is_main:
            return
        tmp = f"{path}.tmp"
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state = rng.bit_generator.state
    return {"bit_generator": state["bit_generator"], "s": str(state["state"]["state"]),
            "inc": str(state["state"]["inc"]), "has_uint32": state["has_uint32"],
            "uinteger": state["uinteger"]}


def _rng_from_state(saved: dict[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {"state": int(saved["s"]), "inc": int(saved["inc"])},
        "has_uint32": saved["has_uint32"],
        "uinteger": saved["uinteger"],
    }
    return rng


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint written by :meth:`SupernetTrainer.save` (read with ``weights_only``: no
    code runs while loading)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SeminasError(f"no supernet checkpoint at {path}") from None
    except Exception as exc:  # noqa: BLE001 -- any unreadable file is one user error
        raise SeminasError(f"{path} is not a supernet checkpoint ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise SeminasError(f"{path} is not a supernet checkpoint of format {CHECKPOINT_FORMAT}")
    state["model"] = strip_ddp_prefix(state["model"])
    return state


def model_from_checkpoint(state: dict[str, Any]) -> MobileNet:
    shape_d = dict(state["shape"])
    shape_d["widths"] = tuple(shape_d["widths"])
    shape = NetworkShape(**shape_d)
    arch = None if state.get("arch") is None else MobileNetArch(tuple(state["arch"]))
    model = MobileNet(shape, arch, state.get("sharing", "nested"))
    model.load_state_dict(state["model"])
    return model


# -- batch-norm recalibration and scoring --------------------------------------------------------
@torch.no_grad()
def recalibrate_bn(
    model: MobileNet, arch: MobileNetArch, batches: Sequence[torch.Tensor], device: str = "cpu"
) -> None:
    """Re-estimate the running statistics of the batch norms on ``arch``'s path from
    ``batches`` (reset, then an exact average over the batches: momentum ``None``)."""
    bns = model.path_batchnorms(arch)
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    was_training = model.training
    model.train()
    try:
        for x in batches:
            model(x.to(device), arch)
    finally:
        for bn, m in zip(bns, saved, strict=True):
            bn.momentum = m
        model.train(was_training)


@torch.no_grad()
def accuracy_on(
    model: MobileNet, arch: MobileNetArch | None, batches, device: str = "cpu"
) -> float:
    """Top-1 accuracy (%) of the path ``arch`` in eval mode over ``(x, y)`` batches."""
    model.eval()
    correct = total = 0
    for x, y in batches:
        logits = model(x.to(device), arch)
        correct += int((logits.argmax(1).cpu() == y).sum())
        total += len(y)
    if total == 0:
        raise SeminasError("no held-out images to score on")
    return 100.0 * correct / total


def _accuracy_or_none(model, arch, batches, device: str) -> float | None:
    try:
        return accuracy_on(model, arch, batches, device)
    except SeminasError:  # no such split
        return None


class Scorer:
    """Scores architectures on a supernet: recalibrate the path's batch norms, then held-out
    accuracy. Calibration batches are drawn once, so scores are comparable."""

    def __init__(
        self,
        source: BatchSource,
        calib_batches: int = 4,
        calib_batch_size: int = 128,
        eval_batch_size: int = 500,
        recalibrate: bool = True,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.source = source
        self.recalibrate = recalibrate
        self.eval_batch_size = eval_batch_size
        self.device = device
        self.calibration = (
            source.calibration_batches(calib_batches, calib_batch_size, seed)
            if recalibrate else []
        )

    def score(self, model: MobileNet, arch: MobileNetArch) -> float:
        if self.recalibrate:
            recalibrate_bn(model, arch, self.calibration, self.device)
        return accuracy_on(
            model, arch, self.source.heldout_batches(self.eval_batch_size), self.device
        )


# -- one-call training job (used by the CLI under torchrun and by the pipeline's workers) -------
@dataclass(frozen=True)
class TrainJob:
    """A supernet (``arch`` None) or final-network training run; picklable."""

    data: Any  # a seminas.supernet.data.DataSpec
    shape: dict[str, Any]  # NetworkShape fields, without num_classes/cifar (taken from the data)
    recipe: SupernetRecipe
    out: str  # checkpoint path (written by rank 0)
    max_flops: int | None = None  # uniform sampling over the constrained space
    arch: str | None = None  # train this architecture alone instead of the supernet
    sharing: str = "nested"  # supernet weight sharing: "nested" or "independent" (model.py)
    seed: int = 0
    threads: int = 1  # torch threads per process on CPU
    resume: bool = True
    log_every: int = 50
    # continued training (between search iterations) follows the same cosine: the schedule
    # spans the job's own steps plus these, and the job stops before them
    extra_steps: int = 0


def run_train_job(job: TrainJob, progress: Progress | None = None) -> dict[str, Any]:
    """Train under whatever process group the environment describes; rank 0 saves the
    checkpoint to ``job.out``, reports its steps to ``progress`` and returns a summary (other
    ranks return theirs too). Prints nothing: the command line shows the summary."""
    import warnings

    # channels-last 1x1 weights have other strides than their gradients: harmless for DDP
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    info = init_distributed()
    report = (progress or NO_PROGRESS) if info.is_main else NO_PROGRESS
    try:
        if info.device == "cpu":
            torch.set_num_threads(max(1, job.threads))
        source = job.data.open(report)
        shape = network_shape(job.shape, source)
        space = MobileNetSpace(job.max_flops)
        torch.manual_seed(job.seed)
        arch = None if job.arch is None else space.validate(job.arch)
        model = MobileNet(shape, arch, job.sharing)
        own_steps = max(1, math.ceil(job.recipe.epochs * source.steps_per_epoch(
            job.recipe.batch_size)))
        trainer = SupernetTrainer(
            model, source, job.recipe, job.seed, info, total_steps=own_steps + job.extra_steps
        )
        if job.resume and os.path.exists(job.out):
            state = load_checkpoint(job.out)
            if state["shape"] == asdict(shape) and state.get("total_steps") == trainer.total_steps:
                trainer.load_state_dict(state)
        sampler = None if arch is not None else uniform_sampler(space)
        start = time.perf_counter()
        history = []
        remaining = own_steps - trainer.step
        chunk = max(1, min(job.log_every, trainer.steps_per_epoch))
        what = "supernet" if arch is None else "network"
        report.start(f"{what} training ({info.world_size} process(es))", own_steps, "steps")
        try:
            report.advance(trainer.step)  # steps done before a resume
            while remaining > 0:
                n = min(chunk, remaining)
                stats = trainer.train_steps(n, sampler)
                remaining -= n
                history.append({"step": trainer.step, **stats})
                report.advance(n, f"loss {stats['loss']:.3f}  train acc {stats['acc']:.1f}%")
                trainer.save(job.out)
        finally:
            report.finish()
        trainer.save(job.out)
        seconds = time.perf_counter() - start
        held = test = None
        if arch is not None and info.is_main:  # a final network: how good is it?
            held = _accuracy_or_none(model, arch, source.heldout_batches(256), info.device)
            tests = getattr(source, "test_batches", None)
            if tests is not None:
                test = _accuracy_or_none(model, arch, tests(256), info.device)
        if info.distributed:
            dist.barrier()
        return {
            "rank": info.rank,
            "world_size": info.world_size,
            "steps": trainer.step,
            "seconds": seconds,
            "heldout_accuracy": held,
            "test_accuracy": test,
            "history": history,
            "checksum": float(sum(p.detach().double().sum() for p in model.parameters())),
        }
    finally:
        close_distributed()


def network_shape(fields: dict[str, Any], source: BatchSource) -> NetworkShape:
    """The network for ``source``: its class count, its resolution, CIFAR strides at 32x32."""
    d = dict(fields)
    d["widths"] = tuple(d.get("widths", NetworkShape().widths))
    d["num_classes"] = source.num_classes
    d["resolution"] = source.image_size
    d["cifar"] = source.cifar
    return NetworkShape(**d)


class _QueuedProgress(Progress):
    """Rank 0's reports in a spawned process, sent to the parent (see :func:`spawn_local`)."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def start(self, what: str, total: float | None = None, unit: str = "") -> None:
        self._queue.put(("start", (what, total, unit)))

    def advance(self, n: float = 1, note: str | None = None) -> None:
        self._queue.put(("advance", (n, note)))

    def finish(self) -> None:
        self._queue.put(("finish", ()))


def _relay(queue: Any, progress: Progress) -> None:
    """Hand the reports waiting in ``queue`` to ``progress``."""
    while not queue.empty():
        method, args = queue.get()
        getattr(progress, method)(*args)


def _spawn_entry(
    rank: int, world: int, port: int, job: TrainJob, out_dir: str, reports: Any = None
) -> None:
    os.environ.update(
        {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
         "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    )
    progress = _QueuedProgress(reports) if rank == 0 and reports is not None else None
    summary = run_train_job(job, progress=progress)
    torch.save(
        {k: v for k, v in summary.items() if k != "history"} | {"history_len": len(
            summary["history"])},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_local(
    job: TrainJob, world: int, work_dir: str, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Run ``job`` on ``world`` local processes with the gloo backend (what ``torchrun
    --nproc_per_node=world`` does on one machine); returns each rank's summary. Rank 0's
    progress comes back through a queue and is handed to ``progress`` here."""
    import torch.multiprocessing as mp

    os.makedirs(work_dir, exist_ok=True)
    port = free_port()
    if progress is None:
        mp.spawn(_spawn_entry, args=(world, port, job, work_dir), nprocs=world, join=True)
    else:
        reports = mp.get_context("spawn").SimpleQueue()
        processes = mp.spawn(
            _spawn_entry, args=(world, port, job, work_dir, reports), nprocs=world, join=False
        )
        while not processes.join(timeout=0.2):
            _relay(reports, progress)
        _relay(reports, progress)
    return [
        torch.load(os.path.join(work_dir, f"rank{r}.pt"), weights_only=True) for r in range(world)
    ]
