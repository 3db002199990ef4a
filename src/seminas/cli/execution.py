"""Command-line options for real training and parallel evaluation, shared by ``seminas search``
and ``seminas resume``, and the executor and backend they describe."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from seminas.errors import SeminasError
from seminas.options import number

DEFAULT_TRAIN_EPOCHS = 2
DEFAULT_TABLE_EPOCHS = 108  # nb101 table fidelity


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _workers(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def add_execution_options(parser: argparse.ArgumentParser) -> None:
    """Where evaluations run and how failures are handled."""
    g = parser.add_argument_group("parallel evaluation (see README, Real training)")
    g.add_argument("--workers", type=_workers, default=None,
                   help="evaluations at once (default 1; a resumed study: as it was run)")
    g.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: a process pool on this machine (default); ray: Ray tasks")
    g.add_argument("--ray-address", metavar="ADDR",
                   help="with --executor ray: 'auto' or HOST:PORT of a running cluster "
                   "(default: start a local Ray instance)")
    g.add_argument("--cpus-per-eval", type=number(float, above=0), default=1.0,
                   help="Ray resource request of one evaluation (default 1 CPU)")
    g.add_argument("--gpus-per-eval", type=number(float, low=0), default=0.0,
                   help="Ray resource request of one evaluation (default 0 GPUs)")
    g.add_argument("--eval-timeout", type=_positive_float, metavar="SECONDS",
                   help="kill an evaluation running longer than this; it counts as failed")
    g.add_argument("--retries", type=_count, default=1,
                   help="extra attempts of a failed evaluation before it is given up (default 1)")
    g.add_argument("--simulate-time", type=number(float, low=0), default=0.0, metavar="SCALE",
                   help="sleep cost_seconds x SCALE in each evaluation: a table lookup then "
                   "takes as long as (a fraction of) the training it stands for; same results")


def simulated_evaluator(args: argparse.Namespace, evaluator: Any) -> Any:
    """The evaluator, slowed down as ``--simulate-time`` asks (see seminas.execution.simulated)."""
    from seminas.execution.simulated import simulated

    return simulated(evaluator, getattr(args, "simulate_time", 0.0))


def add_search_options(parser: argparse.ArgumentParser) -> None:
    """``seminas search``: the evaluator choice, the training options, the execution options."""
    g = parser.add_argument_group("real training (--evaluator train)")
    from seminas.registry import evaluator_names

    g.add_argument("--evaluator", choices=evaluator_names(), default="table",
                   help="table: look results up in the benchmark (default); train: train "
                   "every architecture (--epochs then means training epochs, default 2); "
                   "others: registered by installed plugins")
    g.add_argument("--data", default="cifar10-10k",
                   help="training data: cifar10-10k (the shared subset), a directory of the "
                   "CIFAR-10 python batches, or an image folder with train/<class>/ images")
    g.add_argument("--network", choices=["cpu", "standard"], default="cpu",
                   help="network size: cpu (narrow, shallow; default) or the benchmark's own")
    g.add_argument("--channels", type=_workers, help="override the network's width")
    g.add_argument("--cells", type=_workers, help="override the cells per stage/stack")
    add_execution_options(parser)
    parser.set_defaults(epochs=None)  # resolved per evaluator by resolve_search_args


def resolve_search_args(args: argparse.Namespace) -> None:
    """Fill defaults that depend on the evaluator and refuse combinations that make no sense."""
    kind = getattr(args, "evaluator", "table")
    train = kind == "train"
    if args.epochs is None:  # a plugin's evaluator kind: its own default (None)
        args.epochs = DEFAULT_TRAIN_EPOCHS if train else (
            DEFAULT_TABLE_EPOCHS if kind == "table" else None
        )
    if train and args.epochs < 1:
        raise SeminasError(f"--epochs must be at least 1 for training, got {args.epochs}")
    if args.ray_address is not None and args.executor != "ray":
        raise SeminasError("--ray-address needs --executor ray")


def wants_executor(args: argparse.Namespace, train: bool, parallelism: int = 1) -> bool:
    """Evaluate on an executor: always for training (a stuck run can then be killed), and when
    asked for workers, Ray, or a timeout."""
    return (
        train
        or parallelism > 1
        or (args.workers or 1) > 1
        or args.executor == "ray"
        or args.eval_timeout is not None
    )


def make_executor_from_args(args: argparse.Namespace, workers: int | None = None) -> Any:
    """The executor the options describe (``workers`` overrides ``--workers``)."""
    from seminas.execution import make_executor

    if args.executor == "ray" and args.ray_address is not None:
        from seminas.execution.ray_executor import check_address, import_ray

        import_ray()
        check_address(args.ray_address)  # fail in seconds on a wrong address
    return make_executor(
        args.executor,
        workers or args.workers or 1,
        retries=args.retries,
        timeout=args.eval_timeout,
        ray_address=args.ray_address,
        cpus_per_eval=args.cpus_per_eval,
        gpus_per_eval=args.gpus_per_eval,
    )


@contextmanager
def search_backend(args: argparse.Namespace) -> Iterator[Any]:
    """The evaluation backend of a plain ``seminas search`` (None: in this process)."""
    if not wants_executor(args, args.evaluator == "train"):
        yield None
        return
    from seminas.execution.backend import ExecutorBackend

    executor = make_executor_from_args(args)
    try:
        yield ExecutorBackend(executor)
    finally:
        executor.close()
