"""Where evaluations (and a bench's runs) run: a local process pool or a Ray cluster, with the
same fault handling.

- :class:`~seminas.execution.local.LocalExecutor` (``--executor local``, the default):
  ``--workers N`` processes on this machine.
- :class:`~seminas.execution.ray_executor.RayExecutor` (``--executor ray``): each evaluation a
  Ray task on an existing cluster (``--ray-address auto`` or ``HOST:PORT``) or a local instance.
- :class:`~seminas.execution.backend.ExecutorBackend` plugs either into a search; a study uses
  one through :func:`seminas.study.run_study` (``executor=``); a bench runs each of its searches
  as one job (:mod:`seminas.experiments.bench`). What a job does is the executor's
  :class:`~seminas.execution.base.Work` (an evaluator is wrapped in
  :class:`~seminas.execution.base.EvaluatorWork`).

Fault semantics (``--eval-timeout``, ``--retries``, dead workers) are in
:mod:`seminas.execution.base`; what a search does with a given-up candidate is in
:class:`seminas.strategies.base.SearchContext`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AttemptFailure": "base",
    "EvaluatorWork": "base",
    "Executor": "base",
    "FaultPolicy": "base",
    "Job": "base",
    "Outcome": "base",
    "Work": "base",
    "ExecutorBackend": "backend",
    "failed_record": "backend",
    "LocalExecutor": "local",
    "RayExecutor": "ray_executor",
}

EXECUTORS = ("local", "ray")

__all__ = sorted([*_EXPORTS, "EXECUTORS", "make_executor"])


def make_executor(
    kind: str = "local",
    workers: int = 1,
    *,
    retries: int = 1,
    timeout: float | None = None,
    max_requeues: int = 2,
    ray_address: str | None = None,
    cpus_per_eval: float = 1,
    gpus_per_eval: float = 0,
    threads: int = 1,
) -> Any:
    """An executor by name (``local`` or ``ray``) with its fault policy."""
    from seminas.errors import SeminasError
    from seminas.execution.base import FaultPolicy

    faults = FaultPolicy(retries=retries, timeout=timeout, max_requeues=max_requeues)
    if kind == "local":
        if ray_address is not None:
            raise SeminasError("--ray-address needs --executor ray")
        from seminas.execution.local import LocalExecutor

        return LocalExecutor(workers, faults, threads=threads)
    if kind == "ray":
        from seminas.execution.ray_executor import RayExecutor, import_ray

        import_ray()  # a missing Ray fails here, before any work
        return RayExecutor(
            workers, faults, address=ray_address, num_cpus=cpus_per_eval, num_gpus=gpus_per_eval
        )
    raise SeminasError(f"unknown executor {kind!r}: choose {' or '.join(EXECUTORS)}")


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"seminas.execution.{_EXPORTS[name]}"), name)
