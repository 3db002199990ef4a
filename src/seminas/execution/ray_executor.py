"""The Ray executor: every job is a Ray task on an existing cluster (or a local instance).

Each attempt is one task with its resource request (``num_cpus``, ``num_gpus``), so Ray places it
on a node with room; at most ``workers`` tasks are in flight at once. The work (an evaluator, a
bench's runner: :class:`~seminas.execution.base.Work`) is put in the object store once; each Ray
worker process unpickles it once and keeps it (loaded data and all) for the tasks it runs later.

Faults map onto the common policy (:mod:`seminas.execution.base`): an exception raised by the
work (``RayTaskError``) is a failed attempt; a task still running after the timeout is
cancelled with ``force=True``, which kills its worker process; a worker or node that dies
(``WorkerCrashedError``, ``NodeDiedError``, ...) re-queues the job. Ray's own task retries are
switched off (``max_retries=0``) so that every attempt is counted and recorded here.

Where each job ran is its worker name, ``ray:PID@NODE_IP/NODE_ID``, kept with its record
(``extra["worker"]``) and with every failed attempt.

Addresses: ``None`` starts a private local instance (stopped on close); ``"auto"`` joins the
cluster this machine belongs to; ``HOST:PORT`` joins that cluster's head (checked to be
reachable first, so a wrong address fails in seconds with one line, not after Ray's retries).
A cluster started with token authentication (Ray's default where a token exists) needs
``RAY_AUTH_MODE=token`` and the token (``~/.ray/auth_token`` or ``RAY_AUTH_TOKEN``) here too.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

from seminas.errors import SeminasError
from seminas.execution.base import Executor, FaultPolicy, Job, Work, one_line

_WORK: dict[str, Work] = {}  # per Ray worker process: token -> work, loaded once


def _ray_evaluate(work: Work, token: str, job: Job, threads: int) -> Iterator[tuple[str, Any]]:
    """The body of one Ray task (a streaming generator): first ``("started", where)`` once the
    worker is ready -- the timeout counts from there -- then ``("done", result)``. ``where`` is
    ``PID@NODE_IP/NODE_ID`` (the node id's first 12 digits): two raylets on one machine share
    the IP, so the id tells the nodes apart."""
    import ray
    import torch

    torch.set_num_threads(max(1, threads))
    kept = _WORK.get(token)
    if kept is None:
        _WORK.clear()  # a new search or bench: forget the previous work and its data
        work.use_threads(threads)
        work.setup()  # before "started": set-up time is not part of the first job's timeout
        _WORK[token] = kept = work
    node_id = ray.get_runtime_context().get_node_id() or "?"
    yield "started", f"{os.getpid()}@{ray.util.get_node_ip_address()}/{node_id[:12]}"
    yield "done", kept.run(job)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SeminasError(
            "--executor ray needs Ray, which is not installed: pip install 'seminas[ray]' "
            "(or pip install ray)"
        ) from None
    return ray


def check_address(address: str, timeout: float = 3.0) -> None:
    """Fail in one line unless ``address`` is ``auto`` or a reachable ``HOST:PORT``."""
    if address == "auto":
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SeminasError(
            f"--ray-address {address!r} is not HOST:PORT or 'auto' (e.g. 10.0.0.5:6379)"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise SeminasError(
            f"cannot reach the Ray cluster at {address} ({exc.__class__.__name__}: {exc}); "
            f"is `ray start --head` running there?"
        ) from None


class RayExecutor(Executor):
    """Jobs as Ray tasks (see the module docstring)."""

    kind = "ray"
    reports_start = True

    def __init__(
        self,
        workers: int = 2,
        faults: FaultPolicy | None = None,
        address: str | None = None,
        num_cpus: float = 1,
        num_gpus: float = 0,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(workers, faults)
        if num_cpus < 0 or num_gpus < 0:
            raise SeminasError("CPUs and GPUs per evaluation must not be negative")
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.init_kwargs = dict(init_kwargs or {})
        self._ray: Any = None
        self._owns_ray = False
        self._refs: dict[Any, int] = {}  # in-flight task (a streaming generator) -> job key
        self._token = ""
        self._work_ref: Any = None
        self._remote: Any = None

    def _start(self) -> None:
        ray = self._ray = import_ray()
        if not ray.is_initialized():
            if self.address is not None:
                check_address(self.address)
            kwargs = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": "warning",
                **self.init_kwargs,
            }
            if self.address is None:
                kwargs.setdefault("num_cpus", max(self.workers, int(self.num_cpus) or 1))
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local instance"
                if "InvalidAuthToken" in str(exc.__cause__):  # Ray puts it in the text only
                    raise SeminasError(
                        f"the Ray cluster at {where} wants its authentication token: set "
                        f"RAY_AUTH_MODE=token, with the cluster's token in ~/.ray/auth_token "
                        f"or RAY_AUTH_TOKEN"
                    ) from None
                raise SeminasError(f"cannot start Ray on {where}: {one_line(exc)}") from None
            self._owns_ray = True
        self._check_resources()
        self._token = secrets.token_hex(8)
        self._work_ref = ray.put(self.work)
        self._remote = ray.remote(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0
        )(_ray_evaluate)

    def _check_resources(self) -> None:
        total = self._ray.cluster_resources()
        for name, need in (("CPU", self.num_cpus), ("GPU", self.num_gpus)):
            if need > total.get(name, 0):
                raise SeminasError(
                    f"each evaluation asks for {need:g} {name}(s) but the Ray cluster has "
                    f"{total.get(name, 0):g}: lower the request or add nodes"
                )

    def _stop(self) -> None:
        if self._ray is None:
            return
        for ref in list(self._refs):
            self._cancel(ref)
        self._refs.clear()
        self._work_ref = None
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

    def _has_free_slot(self) -> bool:
        return len(self._refs) < self.workers

    def _launch(self, key: int, job: Job) -> str | None:
        threads = max(1, int(self.num_cpus))
        ref = self._remote.remote(self._work_ref, self._token, job, threads)
        self._refs[ref] = key
        return "ray"

    def _cancel(self, ref: Any) -> None:
        try:
            self._ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - already finished or gone: nothing to stop
            pass

    def _wait(self, timeout: float | None) -> list[tuple[int, str, Any]]:
        ray = self._ray
        if not self._refs:
            if timeout:
                time.sleep(min(timeout, 0.05))
            return []
        ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready:  # take everything else that is done too
            more, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
            ready = list(dict.fromkeys([*ready, *more]))
        events: list[tuple[int, str, Any]] = []
        crashed = (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.LocalRayletDiedError,
            ray.exceptions.OutOfMemoryError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.OwnerDiedError,
        )
        for gen in ready:
            key = self._refs[gen]
            try:
                kind, value = ray.get(next(gen))
                if kind == "started":
                    events.append((key, "started", value))
                    continue  # the result is the generator's next item
                del self._refs[gen]
            except StopIteration:
                del self._refs[gen]
                events.append((key, "error", "the Ray task ended without a result"))
                continue
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                events.append((key, "error", one_line(cause)))
            except crashed as exc:
                events.append((key, "died", f"Ray worker lost: {one_line(exc)}"))
            except ray.exceptions.TaskCancelledError:
                events.append((key, "died", "the Ray task was cancelled by someone else"))
            except ray.exceptions.RayError as exc:
                events.append((key, "error", one_line(exc)))
            else:
                events.append((key, "ok", value))
                continue
            self._refs.pop(gen, None)  # a failure: the task is over
        return events

    def _kill(self, key: int) -> None:
        for ref, k in list(self._refs.items()):
            if k == key:
                del self._refs[ref]
                self._cancel(ref)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "ray_address": self.address,
            "cpus_per_eval": self.num_cpus,
            "gpus_per_eval": self.num_gpus,
        }
