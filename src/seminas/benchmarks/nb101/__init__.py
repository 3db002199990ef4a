"""NAS-Bench-101 as tabular benchmarks: the official table and the shipped 20k-cell subset.

One job per module: :mod:`~.schema` (the official record format), :mod:`~.table` (the converted
table and its cache file), :mod:`~.convert` (the official file, converted once), :mod:`~.benchmark`
(the official table as a benchmark, queried like the official API) and :mod:`~.subset` (the
20,001 cells of ``nasbench101/subset-20k.csv``).
"""

from seminas.benchmarks.nb101.benchmark import NB101Benchmark, resolve_official_file
from seminas.benchmarks.nb101.convert import convert_tfrecord, load_table
from seminas.benchmarks.nb101.schema import (
    EPOCH_BUDGETS,
    LABEL_OPS,
    OP_LABELS,
    PAD_LABEL,
    REPORT_EPOCHS,
    RUNS,
    encode_row,
    model_metrics_classes,
    parse_row,
)
from seminas.benchmarks.nb101.subset import SPECS_FILE, SUBSET_FILE, NB101SubsetBenchmark
from seminas.benchmarks.nb101.table import CACHE_FORMAT, NB101Table, cache_key, cache_path_for

__all__ = [
    "CACHE_FORMAT",
    "EPOCH_BUDGETS",
    "LABEL_OPS",
    "OP_LABELS",
    "PAD_LABEL",
    "REPORT_EPOCHS",
    "RUNS",
    "SPECS_FILE",
    "SUBSET_FILE",
    "NB101Benchmark",
    "NB101SubsetBenchmark",
    "NB101Table",
    "cache_key",
    "cache_path_for",
    "convert_tfrecord",
    "encode_row",
    "load_table",
    "model_metrics_classes",
    "parse_row",
    "resolve_official_file",
]
