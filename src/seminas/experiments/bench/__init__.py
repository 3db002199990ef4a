"""The bench: many seeds of several strategy variants on one tabular benchmark, in parallel.

One bench directory holds one benchmark's runs:

- ``results.jsonl`` -- one JSON line per finished run, appended (and fsynced) the moment the run
  finishes, so an interrupted bench loses nothing it finished. Re-running with more seeds only
  runs the ``(config_key, seed)`` pairs that are not in the file yet.
- ``summary.md`` / ``summary.json`` -- per method and budget: the report metric of the
  architecture chosen after *b* queries, how often the global optimum was found, and how fast.
- ``curves.png`` -- mean best-so-far report metric against queries.
- ``errors.jsonl`` -- runs given up, with their spec and every failed attempt (only when some
  were).

The parts, one job each: :mod:`~.specs` (what to run: :class:`RunSpec`, :func:`make_specs`),
:mod:`~.tables` (the benchmark), :mod:`~.work` (one run, as an executor's work), :mod:`~.run`
(running the missing runs on an executor: :func:`bench`, :func:`run_bench`), :mod:`~.results`
(the directory's files), :mod:`~.summary` and :mod:`~.plots`.
"""

from seminas.experiments.bench.plots import plot_curves
from seminas.experiments.bench.results import BenchWarning, read_results, results_path
from seminas.experiments.bench.run import (
    BenchOutput,
    BenchRunError,
    ExecutorChoice,
    bench,
    default_workers,
    run_bench,
)
from seminas.experiments.bench.specs import RunSpec, config_key_of, make_specs, resolve_preset
from seminas.experiments.bench.summary import (
    DEFAULT_BUDGETS,
    default_command,
    render_summary,
    summarize,
    write_summary,
)
from seminas.experiments.bench.tables import (
    bench_table_options,
    describe_benchmark,
    make_benchmark,
    normalise_space,
)
from seminas.experiments.bench.work import BenchWork, run_one
from seminas.experiments.seeds import format_seeds, parse_seeds

__all__ = [
    "DEFAULT_BUDGETS",
    "BenchOutput",
    "BenchRunError",
    "BenchWarning",
    "BenchWork",
    "ExecutorChoice",
    "RunSpec",
    "bench",
    "bench_table_options",
    "config_key_of",
    "default_command",
    "default_workers",
    "describe_benchmark",
    "format_seeds",
    "make_benchmark",
    "make_specs",
    "normalise_space",
    "parse_seeds",
    "plot_curves",
    "read_results",
    "render_summary",
    "resolve_preset",
    "results_path",
    "run_bench",
    "run_one",
    "summarize",
    "write_summary",
]
