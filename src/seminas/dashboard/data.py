"""What the dashboard shows, as one JSON-able dict computed from a study opened read-only."""

from __future__ import annotations

import time
from typing import Any

from seminas.study.report import summary
from seminas.study.study import Study


def dashboard_data(study: Study, top: int = 5) -> dict[str, Any]:
    """The study's state, counts, best architecture, predictor quality per iteration, time per
    phase and the ``top`` best architectures (each with the address of its cell diagram).

    ``finished`` (queries done) is what the page's images are cache-busted by: they change
    only when a query finishes.
    """
    data = summary(study, top=top)
    counts = data["queries"]
    top = [{**entry, "cell": f"/cell/{entry['query']}.svg"} for entry in data["best"]]
    evaluator = data["evaluator"]
    return {
        "study": data["study"],
        "status": data["state"],
        "stopped": data["stopped"],
        "strategy": data["strategy"],
        "preset": data["preset"],
        "seed": data["seed"],
        "space": evaluator.get("space"),
        "evaluator": evaluator,
        "metrics": data["metrics"],
        "budget": data["budget"],
        "finished": counts["done"],
        "counts": counts,
        "best": top[0] if top else None,
        "predictor": data["predictor"],
        "phase_seconds": data["phase_seconds"],
        "worker_seconds": data["worker_seconds"],
        "top": top,
        "sessions": len(data["sessions"]),
        "time": time.time(),
    }
