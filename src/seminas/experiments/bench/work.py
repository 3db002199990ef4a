"""One bench run: a whole search for one :class:`~seminas.experiments.bench.specs.RunSpec`,
turned into its results line. :class:`BenchWork` is that run as an executor's
:class:`~seminas.execution.base.Work`, so a bench gets the executors' worker processes or Ray
tasks, timeouts, retries and dead-worker handling (:mod:`seminas.execution`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from seminas.execution.base import Job, Work
from seminas.experiments.bench.specs import RunSpec, json_default
from seminas.experiments.bench.tables import cached_benchmark

LINE_FORMAT = 1  # bump when the meaning of a results line changes


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Run one search and return its results line.

    The line holds the spec fields, ``config_key``/``method``, the strategy's resolved config, the
    best trial, the best-so-far trajectory and the ordered evaluated ``arch_ids`` (enough to
    recompute any budget's choice and the queries needed to hit the optimum) -- but not the
    per-trial records, which would make 100-seed files needlessly large. Apart from
    ``wall_seconds`` the line is a function of the spec alone.
    """
    from seminas.strategies import make_strategy, run_search

    evaluator = cached_benchmark(spec)
    strategy = make_strategy(spec.strategy, spec.preset, **spec.overrides)
    evaluator.reset_counts()
    reseed = getattr(evaluator, "reseed", None)
    if callable(reseed):  # stochastic tables (NB101 picks one of three runs): per-run stream
        reseed(int(spec.seed))
    result = run_search(strategy, evaluator, int(spec.budget), int(spec.seed))
    data = result.to_dict()
    trials = data.pop("trials")
    costs = [t["cost_seconds"] for t in trials]
    line: dict[str, Any] = {
        "format": LINE_FORMAT,
        "config_key": spec.config_key,
        "method": spec.method,
        **{k: v for k, v in asdict(spec).items() if k != "label" or v is not None},
        "metrics": {
            "search": evaluator.search_metric_name,
            "report": evaluator.report_metric_name,
        },
        "evaluator": data["evaluator"],
        "config": data["config"],
        "num_queries": data["num_queries"],
        "num_unique": len({t["arch_id"] for t in trials}),
        "total_cost_seconds": None if any(c is None for c in costs) else float(sum(costs)),
        "wall_seconds": data["wall_seconds"],
        "best": data["best"],
        "trajectory": data["trajectory"],
        "arch_ids": [t["arch_id"] for t in trials],
        "diagnostics": data["diagnostics"],
    }
    # Round-trip through JSON so callers get exactly what the file will hold.
    return json.loads(json.dumps(line, default=json_default))


class BenchWork(Work):
    """A bench's work for an executor: each job's payload is a :class:`RunSpec`, its result the
    run's results line. A worker loads the tables of ``specs`` once, in :meth:`setup` (so a
    per-run timeout measures the search, not the loading); any other table on first use."""

    def __init__(self, specs: Sequence[RunSpec] = ()) -> None:
        self.tables = list({(s.benchmark_key(), s.data_dir): s for s in specs}.values())

    def setup(self) -> None:
        import seminas.strategies  # noqa: F401 - the strategies' modules, before the first run

        for spec in self.tables:
            cached_benchmark(spec)

    def run(self, job: Job) -> dict[str, Any]:
        return run_one(job.payload)

    def check(self, result: Any) -> tuple[str, str] | None:
        if not isinstance(result, dict) or "config_key" not in result:
            return "error", f"a bench run returned {type(result).__name__}, not a results line"
        return None
