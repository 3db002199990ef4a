#!/usr/bin/env python
"""Rebuild the NAS-Bench-201 table shipped inside seminas from the CSV files.

    python scripts/build_nb201_table.py [DATA_DIR]

DATA_DIR is a data directory holding ``nasbench201/*.csv`` (default: ``../shared/data`` next to
this checkout). Writes ``src/seminas/benchmarks/_data/nb201.npz`` and its ``MANIFEST.json``
(sha256 and size, checked by ``seminas data check``). Rerunnable: the same CSVs give the same
values, and with the same zlib the same bytes. ``tests/test_nb201_table.py`` compares every value
of the shipped file with the CSVs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from seminas.benchmarks.nb201_table import (  # noqa: E402
    EMBEDDED_NAME,
    FORMAT_VERSION,
    NB201Table,
    table_from_csv_dir,
)

OUT_DIR = ROOT / "src" / "seminas" / "benchmarks" / "_data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out-dir", default=str(OUT_DIR))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    csv_table = table_from_csv_dir(args.data_dir)
    meta = {
        "source": "NAS-Bench-201 CSV files (see LICENSES.txt), shipped with seminas",
        "source_files": csv_table.meta["source_files"],
        "created_by": "scripts/build_nb201_table.py",
    }
    table = NB201Table(csv_table.ops, csv_table.arrays, meta)
    out = Path(args.out_dir)
    target = out / EMBEDDED_NAME
    sha = table.save(target)
    check = NB201Table.load(target)  # what was written reads back, digest included
    assert check.content_sha256() == table.content_sha256()
    manifest = {
        EMBEDDED_NAME: {
            "sha256": sha,
            "bytes": target.stat().st_size,
            "format_version": FORMAT_VERSION,
            "content_sha256": table.content_sha256(),
            "built_from": meta["source_files"],
        }
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sha
    print(f"wrote {target} ({target.stat().st_size:,} bytes, sha256 {sha})")
    print(f"{len(table.keys())} arrays: {', '.join(table.keys())}")
    print(f"took {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
