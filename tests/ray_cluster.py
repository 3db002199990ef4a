"""A real Ray cluster on this machine for tests: a head and worker nodes started with `ray start`.

Each node is its own ``ray start --block`` process (own session, own temp dir, own ports), so a
node is stopped by signalling the processes it started -- never ``ray stop``, which would stop
every Ray instance on the machine, other test sessions' included. The cluster uses token
authentication with a token of its own: a process without it cannot join or submit work, and
drivers started with :attr:`RayCluster.env` can.

Ray binds a node to the machine's address, not to the loopback one: a multi-node cluster needs
an address other machines could reach, so Ray resolves ``127.0.0.1`` to it (drivers may still be
given ``127.0.0.1:PORT``).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RAY = [sys.executable, "-m", "ray.scripts.scripts"]  # the `ray` command of this Python
OBJECT_STORE_BYTES = 100 * 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_range(n: int) -> tuple[int, int]:
    """``n`` consecutive free ports (the worker processes' range of one node)."""
    while True:
        base = random.randrange(20000, 40000 - n)
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base, base + n - 1


@dataclass
class RayNode:
    """One ``ray start --block`` process and everything it started."""

    name: str
    proc: subprocess.Popen
    temp_dir: Path
    log: Path
    node_id: str = ""
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    def processes(self) -> list[psutil.Process]:
        """The node's processes: those below ``ray start`` now, and those seen there before
        that still run (a worker whose raylet died is re-parented)."""
        try:
            root = psutil.Process(self.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                self.seen.setdefault(p.pid, p)
        except psutil.NoSuchProcess:
            pass
        return [p for p in self.seen.values() if p.is_running()]  # checks pid reuse too

    def evaluating(self, task: str) -> bool:
        """True while one of this node's workers runs a task of that name (Ray titles a busy
        worker process ``ray::<task name>``)."""
        for p in self.processes():
            try:
                if " ".join(p.cmdline()).startswith(f"ray::{task}"):
                    return True
            except psutil.Error:
                continue
        return False

    def stop(self, grace: float = 5.0) -> None:
        """What ``ray stop`` does, for this node only: SIGTERM to its processes, then SIGKILL
        to those still alive after ``grace`` seconds."""
        procs = self.processes()  # before signalling: orphans lose their parent
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(procs, timeout=grace)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)
        self.proc.wait(timeout=5)
        self.seen.clear()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class RayCluster:
    """A head node and ``add_node`` workers, all on this machine (see the module docstring)."""

    root: Path
    cpus_per_node: int = 1
    port: int = field(default_factory=free_port)
    nodes: dict[str, RayNode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, name: str, extra: list[str]) -> RayNode:
        starts = sum(1 for d in self.root.glob(f"{name}-*") if d.is_dir())
        temp = self.root / f"{name}-{starts}"  # a node started again gets a fresh one
        temp.mkdir(parents=True)
        lo, hi = free_range(16)
        log = self.root / f"{name}-{starts}.log"
        args = [
            *RAY, "start", *extra, "--block", "--disable-usage-stats",
            "--temp-dir", str(temp),
            "--num-cpus", str(self.cpus_per_node), "--num-gpus", "0",
            "--resources", json.dumps({name: 1}),
            "--object-store-memory", str(OBJECT_STORE_BYTES),
            "--node-manager-port", str(free_port()),
            "--object-manager-port", str(free_port()),
            "--min-worker-port", str(lo), "--max-worker-port", str(hi),
            "--dashboard-agent-listen-port", str(free_port()),
            "--dashboard-agent-grpc-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()),
            "--metrics-export-port", str(free_port()),
        ]
        with open(log, "wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True)
        node = self.nodes[name] = RayNode(name, proc, temp, log)
        return node

    def start_head(self, timeout: float = 120) -> RayNode:
        node = self._start("head_node", [
            "--head", "--port", str(self.port), "--include-dashboard=false",
            "--dashboard-port", str(free_port()),
        ])
        deadline = time.monotonic() + timeout
        while True:  # the GCS accepts connections
            self._check(node)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return node
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Ray head did not start; see {node.log}") from None
                time.sleep(0.2)

    def add_node(self, name: str) -> RayNode:
        return self._start(name, ["--address", self.address])

    def _check(self, node: RayNode) -> None:
        if not node.alive:
            raise RuntimeError(f"`ray start` of {node.name} exited: {node.log.read_text()[-2000:]}")

    def wait_for_nodes(self, timeout: float = 180) -> dict[str, str]:
        """Wait until every started node is alive in the cluster; returns (and records) each
        node's id, found by the custom resource named after it."""
        script = (
            "import json, sys, time, ray\n"
            "ray.init(address=sys.argv[1], log_to_driver=False, logging_level='error')\n"
            "names = set(sys.argv[2:])\n"
            f"deadline = time.monotonic() + {timeout}\n"
            "while True:\n"
            "    ids = {r: n['NodeID'] for n in ray.nodes() if n['Alive'] "
            "for r in n['Resources'] if r in names}\n"
            "    if set(ids) == names or time.monotonic() > deadline:\n"
            "        break\n"
            "    time.sleep(0.2)\n"
            "print(json.dumps(ids))\n"
        )
        names = [n for n, node in self.nodes.items() if node.alive]
        out = subprocess.run(
            [sys.executable, "-c", script, self.address, *names], env=self.env,
            capture_output=True, text=True, timeout=timeout + 60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"cannot query the Ray cluster: {out.stderr[-2000:]}")
        ids = json.loads(out.stdout.strip().splitlines()[-1])
        for name in names:
            if name not in ids:
                raise TimeoutError(f"node {name} did not join; see {self.nodes[name].log}")
            self.nodes[name].node_id = ids[name]
        return ids

    def stop(self) -> None:
        """Stop the workers, then the head."""
        for node in sorted(self.nodes.values(), key=lambda n: n.name == "head_node"):
            if node.processes():
                node.stop(grace=3.0)
