"""Peak memory and time of importing a large NAS-Bench-201 ``.pth`` (not part of the test suite).

    python tests/measure_import_memory.py --datasets cifar10-valid --seeds 777 --epochs 200

writes all 15,625 cells in the legacy torch format of the official v1.x files (``torch.save``
of the whole dict, as the originals were made), then runs ``seminas data import`` on it in a
fresh process under ``/usr/bin/time -v`` and prints the importer's own summary (which reports
its peak resident memory) and the maximum resident set size the OS measured.

``--lazy`` writes the file cell by cell instead (a protocol-2 pickle in the same legacy layout,
spliced from per-cell pickles whose memo indices restart at 0) so that files the size of the
real v1.1 (4.7 GB) can be made without holding them in memory.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nb201_official import PTH_LABELS, benchmark_dict, cells  # noqa: E402

from seminas.benchmarks.nb201_table import N_CELLS, load_embedded  # noqa: E402


def _fragment(obj) -> bytes:
    """The opcodes of ``obj`` without PROTO and STOP, to splice into a larger pickle (its memo
    indices start at 0, so later fragments reuse them; each refers only to its own)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def write_lazy(path: Path, official, spec) -> None:
    """The legacy torch layout, the big dict written cell by cell (never all in memory)."""
    with open(path, "wb") as handle:
        for small in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
            pickle.dump(small, handle, protocol=2)
        handle.write(b"\x80\x02}(")  # PROTO 2, EMPTY_DICT, MARK
        handle.write(_fragment("meta_archs") + _fragment(list(official)))
        handle.write(_fragment("total_archs") + _fragment(N_CELLS))
        handle.write(_fragment("arch2infos") + b"}(")
        # 16 distinct cells, re-labelled for every index: making 15,625 distinct ones in Python
        # would take longer than importing them, and the values do not matter here
        templates = [cells(official, [k], spec=spec, seed=k)[k] for k in range(16)]
        for index in range(N_CELLS):
            per_hp = templates[index % len(templates)]
            for ar in per_hp.values():
                ar["arch_index"], ar["arch_str"] = index, official[index]
                for rc in ar["all_results"].values():
                    rc["arch_config"]["arch_str"] = official[index]
            value = {PTH_LABELS.get(hp, hp): ar for hp, ar in per_hp.items()}
            handle.write(_fragment(index) + _fragment(value))
            if index % 1000 == 999 or index == N_CELLS - 1:
                handle.write(b"u(")  # SETITEMS, then MARK for the next batch
        handle.write(b"u")  # close the (empty) last batch
        handle.write(_fragment("evaluated_indexes") + _fragment(list(range(N_CELLS))))
        handle.write(b"u.")  # SETITEMS of the top dict, STOP
        pickle.dump([], handle, protocol=2)  # no tensor storages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="cifar10-valid")
    ap.add_argument("--seeds", default="777")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--with-12", action="store_true", help="also 12-epoch runs (seed 111)")
    ap.add_argument("--lazy", action="store_true")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    official = load_embedded().arch_strings()
    seeds = [int(s) for s in args.seeds.split(",")]
    spec = {"200": (args.epochs, {d: seeds for d in args.datasets.split(",")})}
    if args.with_12:
        spec["12"] = (12, {d: [111] for d in args.datasets.split(",")})
    root = Path(args.dir or tempfile.mkdtemp(prefix="seminas-mem-"))
    path = root / "NAS-Bench-201-synthetic.pth"
    t = time.time()
    if args.lazy:
        write_lazy(path, official, spec)
    else:
        import torch

        data = benchmark_dict(official, cells(official, range(N_CELLS), spec=spec), PTH_LABELS)
        torch.save(data, path, _use_new_zipfile_serialization=False)
        del data
    print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.time() - t:.0f} s")
    env = {**os.environ, "SEMINAS_CACHE": str(root / "cache")}
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "seminas.cli",
        "data",
        "import",
        str(path),
        "--quiet",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    print(proc.stdout)
    for line in proc.stderr.splitlines():
        if "Maximum resident" in line or "Elapsed (wall" in line or "error" in line:
            print(line.strip())


if __name__ == "__main__":
    main()
