"""An experiment file: a whole comparison (variants x datasets x budget x seeds) as one TOML file.

A paper's appendix can quote the file, and ``seminas experiment run FILE`` regenerates every
number in it: one bench directory per dataset under ``out``, each resumable like any bench.

```toml
[experiment]
space = "nb201"                       # any registered space with a tabular benchmark
datasets = ["cifar10", "cifar100"]    # one bench directory per dataset
budget = 500
seeds = "0-99"
out = "runs/weaknas-ablation"         # relative to the file's directory
preset = "nb201"                      # optional, as `seminas bench --preset`

[[variant]]
strategy = "weaknas"

[[variant]]
strategy = "weaknas"
label = "weaknas-top50"               # optional: the row's name in tables and plots
set = { top_m = 50 }                  # option overrides, validated like `--set`
```

A variant is a strategy with an optional preset and option overrides; two variants of the same
strategy are two rows of the same table.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_EXPERIMENT_KEYS = {"space", "datasets", "dataset", "budget", "seeds", "out", "preset",
                    "fidelity", "workers", "budgets"}
_VARIANT_KEYS = {"strategy", "label", "preset", "set"}


@dataclass(frozen=True)
class Variant:
    """One row of a comparison: a strategy, its preset and option overrides, and a label."""

    strategy: str
    preset: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> Variant:
        """``NAME`` or ``NAME[KEY=VALUE;KEY=VALUE]`` as in ``seminas bench --strategies``."""
        from seminas.options import parse_overrides

        text = text.strip()
        if "[" not in text:
            return cls(text)
        name, _, rest = text.partition("[")
        if not rest.endswith("]") or not name:
            raise SeminasError(
                f"cannot read the variant {text!r}: write NAME or NAME[KEY=VALUE;KEY=VALUE]"
            )
        items = [x.strip() for x in rest[:-1].split(";") if x.strip()]
        return cls(name.strip(), overrides=parse_overrides(items), label=text)


def split_variants(text: str) -> list[str]:
    """Split ``--strategies`` at the commas that are not inside ``[...]``."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


@dataclass(frozen=True)
class Experiment:
    """A parsed experiment file (see the module docstring)."""

    path: Path
    space: str
    datasets: tuple[str | None, ...]
    budget: int
    seeds: str
    out: Path
    variants: tuple[Variant, ...]
    preset: str | None = None
    fidelity: int | None = None
    workers: int | None = None
    budgets: tuple[int, ...] | None = None

    def bench_dir(self, dataset: str | None) -> Path:
        return self.out / str(dataset) if len(self.datasets) > 1 else self.out


def _need(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise SeminasError(f"{where}: missing `{key}`")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SeminasError(f"{where}: `{key}` must be a {names}, got {value!r}")
    return value


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read and check an experiment file; every problem is one line naming the file and key."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SeminasError(f"no experiment file {path}: give a TOML file (see `seminas "
                           f"experiment run --help`)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SeminasError(f"{path} is not valid TOML: {exc}") from None
    exp = data.get("experiment")
    if not isinstance(exp, dict):
        raise SeminasError(f"{path}: no [experiment] table")
    where = f"{path} [experiment]"
    unknown = sorted(set(exp) - _EXPERIMENT_KEYS)
    if unknown:
        raise SeminasError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: "
                           f"{', '.join(sorted(_EXPERIMENT_KEYS))})")
    if "datasets" in exp and "dataset" in exp:
        raise SeminasError(f"{where}: give `datasets` or `dataset`, not both")
    # no dataset given: the space's own default (NAS-Bench-101 has none)
    datasets = exp.get("datasets", [exp.get("dataset")])
    if isinstance(datasets, str):
        datasets = [datasets]
    if datasets == [None]:
        pass
    elif not datasets or not all(isinstance(d, str) and d for d in datasets):
        raise SeminasError(f"{where}: `datasets` must be a non-empty list of names")
    budget = _need(exp, "budget", int, where)
    if budget < 1:
        raise SeminasError(f"{where}: `budget` must be at least 1, got {budget}")
    seeds = exp.get("seeds", "0-9")
    if isinstance(seeds, list):
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise SeminasError(f"{where}: `seeds` must be a list of integers or a string like "
                               f"\"0-99\"")
        seeds = ",".join(str(s) for s in seeds)
    if not isinstance(seeds, str):
        raise SeminasError(f"{where}: `seeds` must be a string like \"0-99\" or a list")
    out = Path(_need(exp, "out", str, where)).expanduser()
    if not out.is_absolute():
        out = path.parent / out
    budgets = exp.get("budgets")
    if budgets is not None and (
        not isinstance(budgets, list)
        or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in budgets)
    ):
        raise SeminasError(f"{where}: `budgets` must be a list of positive integers")
    workers = exp.get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise SeminasError(f"{where}: `workers` must be a positive integer")
    raw_variants = data.get("variant")
    if not isinstance(raw_variants, list) or not raw_variants:
        raise SeminasError(f"{path}: no [[variant]] tables; add at least one")
    variants = []
    for i, raw in enumerate(raw_variants, start=1):
        vwhere = f"{path} variant {i}"
        if not isinstance(raw, dict):
            raise SeminasError(f"{vwhere}: must be a table")
        unknown = sorted(set(raw) - _VARIANT_KEYS)
        if unknown:
            raise SeminasError(f"{vwhere}: unknown key(s) {', '.join(unknown)} (allowed: "
                               f"{', '.join(sorted(_VARIANT_KEYS))})")
        overrides = raw.get("set", {})
        if not isinstance(overrides, dict):
            raise SeminasError(f"{vwhere}: `set` must be a table of option = value")
        preset = raw.get("preset")
        if preset is not None and not isinstance(preset, str):
            raise SeminasError(f"{vwhere}: `preset` must be a string")
        label = raw.get("label")
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise SeminasError(f"{vwhere}: `label` must be a non-empty string")
        variants.append(Variant(_need(raw, "strategy", str, vwhere), preset, dict(overrides),
                                label))
    labels = [v.label or v.strategy for v in variants]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise SeminasError(f"{path}: two variants are named {dupes[0]!r}; give each a `label`")
    fidelity = exp.get("fidelity")  # None: the space's default (NB201 200, NB101 108 epochs)
    if fidelity is not None and not isinstance(fidelity, int):
        raise SeminasError(f"{where}: `fidelity` must be an integer")
    preset = exp.get("preset")
    if preset is not None and not isinstance(preset, str):
        raise SeminasError(f"{where}: `preset` must be a string")
    return Experiment(
        path=path,
        space=str(exp.get("space", "nb201")),
        datasets=tuple(datasets),
        budget=budget,
        seeds=seeds,
        out=out,
        variants=tuple(variants),
        preset=preset,
        fidelity=fidelity,
        workers=workers,
        budgets=None if budgets is None else tuple(budgets),
    )


def describe(exp: Experiment) -> list[str]:
    """What the experiment will run, one line per bench (for a dry run and the log)."""
    rows = []
    for dataset in exp.datasets:
        names = ", ".join(v.label or v.strategy for v in exp.variants)
        rows.append(f"{exp.space}/{dataset or 'default'}: {names}; budget {exp.budget}, "
                    f"seeds {exp.seeds} -> {exp.bench_dir(dataset)}")
    return rows


def variants_from(strategies: str | Sequence[str]) -> list[Variant]:
    """Variants from ``--strategies`` text or names."""
    items = split_variants(strategies) if isinstance(strategies, str) else list(strategies)
    return [v if isinstance(v, Variant) else Variant.parse(str(v)) for v in items]
