"""Queries claimed and stored per second: SQLite file vs PostgreSQL server, 1 to 8 workers.

For each backend and number of workers, a fresh study gets ``--budget`` pending NAS-Bench-201
queries at once, after that many ``seminas worker`` processes have started and are polling;
they claim, evaluate (a table lookup: zero cost, or ``--simulate-time`` x the benchmark's
training time) and store until none is left. The rate is queries / (last result stored -
first claim), read from the study's own timestamps; the median of ``--repeats`` runs is
reported. A result checks itself: every query done once, none dropped.

The PostgreSQL server is a private one started for the run (the binaries the tests use, see
tests/pg_server.py, with fsync on as SQLite's synchronous=FULL), or ``--postgres URL``.

    python benchmarks/storage.py --tiny      # a quick check that it works (60 queries, 1-2 workers)
    python benchmarks/storage.py             # 2000 queries, 1/2/4/8 workers, 3 runs each
    python benchmarks/storage.py --workers 1 4 --budget 500 --simulate-time 1e-5

The full run writes docs/results/storage/storage.json and the table in
docs/results/storage/README.md (``--tiny`` writes under a temporary folder unless ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from seminas.spaces.nb201 import NB201Space
from seminas.strategies import make_strategy
from seminas.study import Study, evaluator_spec, make_config
from seminas.study.storage import TrialRow

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "storage"


def archs(n: int, seed: int) -> list[TrialRow]:
    """``n`` distinct NAS-Bench-201 cells as pending trial rows."""
    space = NB201Space()
    rng = np.random.default_rng(seed)
    rows: dict[str, TrialRow] = {}
    while len(rows) < n:
        arch = space.sample_one(rng)
        key = space.arch_id(arch)
        if key not in rows:
            rows[key] = TrialRow(len(rows), key, space.to_native(arch), space.encode(arch), 0)
    return list(rows.values())


def run_once(location: str, workers: int, budget: int, simulate: float, seed: int) -> dict:
    """One measurement: ``workers`` processes drain ``budget`` queries from a new study."""
    strategy = make_strategy("rs", None, batch_size=budget)
    config = make_config(strategy, evaluator_spec("nb201"), budget, seed)
    study, _ = Study.create_or_open(location, config)
    storage = study.storage
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seminas.cli",
                "worker",
                location,
                "--quiet",
                "--poll",
                "0.01",
                "--simulate-time",
                str(simulate),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 300
        while sum(s.kind == "worker" for s in storage.sessions()) < workers:  # all polling
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise RuntimeError(f"a worker did not start: {procs[0].communicate()[1]}")
            time.sleep(0.05)
        time.sleep(0.2)  # each has entered its polling loop
        storage.propose(archs(budget, seed))
        while storage.counts()["done"] < budget:
            if all(p.poll() is not None for p in procs) or time.monotonic() > deadline + 3600:
                raise RuntimeError("the workers stopped before the study was done")
            time.sleep(0.05)
        storage.set_state("complete", True)  # the workers stop at their next idle look
        stats = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            if p.returncode != 0:
                raise RuntimeError(f"a worker failed: {err.strip()[-500:]}")
            stats.append(json.loads(out))
        trials = storage.trials()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        study.close()
    first = min(t.started for t in trials)
    last = max(t.finished for t in trials)
    evaluated = [s["evaluated"] for s in stats]
    if sum(evaluated) != budget or any(s["dropped"] for s in stats):
        raise RuntimeError(f"queries done twice or dropped: {stats}")
    if any(t.attempts != 1 or t.status != "done" for t in trials):
        raise RuntimeError("a query was claimed more than once")
    seconds = last - first
    return {"seconds": seconds, "per_second": budget / seconds, "per_worker": evaluated}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="60 queries, 1 and 2 workers, once")
    parser.add_argument("--budget", type=int, default=2000, help="queries per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--simulate-time",
        type=float,
        default=0.0,
        metavar="SCALE",
        help="each worker sleeps cost_seconds x SCALE per query (default 0)",
    )
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="an existing database (postgresql://USER@HOST:PORT/DB) instead of a private server",
    )
    parser.add_argument("--out", type=Path, help=f"results folder (default {OUT})")
    args = parser.parse_args(argv)
    if args.tiny:
        args.budget, args.workers, args.repeats = 60, [1, 2], 1
    out = args.out or (Path(tempfile.mkdtemp(prefix="storage-bench-")) if args.tiny else OUT)

    server = None
    base = args.postgres
    if "postgresql" in args.backends and base is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from pg_server import PgServer, find_bindir

        bindir, origin = find_bindir()
        if bindir is None:
            parser.error("no PostgreSQL binaries (pip install pgserver): give --postgres URL")
        server = PgServer(bindir, fsync=True)
        base = server.create_database("bench")
        print(f"PostgreSQL server from {origin}, {server.url()}", file=sys.stderr)
    folder = Path(tempfile.mkdtemp(prefix="storage-bench-db-"))
    results = []
    started = time.perf_counter()
    try:
        for backend in args.backends:
            for workers in args.workers:
                runs = []
                for repeat in range(args.repeats):
                    name = f"w{workers}-r{repeat}-{secrets.token_hex(3)}"
                    location = (
                        str(folder / f"{name}.db")
                        if backend == "sqlite"
                        else f"{base}?study={name}"
                    )
                    run = run_once(location, workers, args.budget, args.simulate_time, seed=repeat)
                    runs.append(run)
                    print(
                        f"{backend:<10} {workers} worker(s)  run {repeat + 1}: "
                        f"{run['per_second']:7.1f} queries/s  {run['per_worker']}",
                        file=sys.stderr,
                    )
                rates = [r["per_second"] for r in runs]
                results.append(
                    {
                        "backend": backend,
                        "workers": workers,
                        "median_per_second": statistics.median(rates),
                        "runs": runs,
                    }
                )
    finally:
        if server is not None:
            server.destroy()
    total = time.perf_counter() - started

    data = {
        "budget": args.budget,
        "repeats": args.repeats,
        "simulate_time": args.simulate_time,
        "seconds": round(total, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": list(os.getloadavg()),
        },
        "postgres": "private server, fsync on" if server is not None else "given URL",
        "results": results,
    }
    table = markdown_table(data)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "storage.json").write_text(json.dumps(data, indent=2) + "\n")
    write_readme(out / "README.md", data, table, argv if argv is not None else sys.argv[1:])
    print(f"wrote {out / 'storage.json'} and {out / 'README.md'} ({total:.0f} s)", file=sys.stderr)
    return 0


def markdown_table(data: dict) -> str:
    by = {(r["backend"], r["workers"]): r["median_per_second"] for r in data["results"]}
    backends = list(dict.fromkeys(r["backend"] for r in data["results"]))
    workers = sorted({r["workers"] for r in data["results"]})
    lines = [
        "| workers | " + " | ".join(f"{b} (queries/s)" for b in backends) + " |",
        "|---:|" + "---:|" * len(backends),
    ]
    for w in workers:
        cells = [f"{by[(b, w)]:.0f}" if (b, w) in by else "-" for b in backends]
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_readme(path: Path, data: dict, table: str, argv: list[str]) -> None:
    machine = data["machine"]
    command = " ".join(["python benchmarks/storage.py", *argv])
    path.write_text(
        "# Study storage: queries claimed and stored per second\n\n"
        f"`{command}` ({data['seconds']:.0f} s): {data['budget']} pending NAS-Bench-201 queries "
        f"per run, drained by as many `seminas worker` processes as the first column says "
        f"(table lookups, simulated training time x {data['simulate_time']:g}); median of "
        f"{data['repeats']} run(s). "
        f"The rate is queries over the time from the first claim to the last stored result. "
        f"Machine: {machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}, "
        f"load average {machine['load_average'][0]:.1f} at the end; PostgreSQL: "
        f"{data['postgres']}.\n\n"
        f"{table}\n\n"
        "Raw numbers: [storage.json](storage.json).\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
