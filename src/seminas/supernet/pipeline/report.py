"""What a pipeline reports: the results (the comparison set's supernet scores against their
from-scratch accuracies, Kendall tau, times) and their Markdown page ``results.md``."""

from __future__ import annotations

from typing import Any

import numpy as np

from seminas.spaces.mobilenet import FINAL_SHAPE, SEARCH_SHAPE, MobileNetSpace, flops, format_flops
from seminas.supernet.pipeline.config import PipelineConfig


def assemble(
    cfg: PipelineConfig,
    space: MobileNetSpace,
    supernet: dict[str, Any],
    search: dict[str, Any],
    comparison: list[dict[str, Any]],
    scratch: list[dict[str, Any]],
    times: dict[str, float],
    command: str | None,
) -> dict[str, Any]:
    """The results of a run from its stages' records (what ``results.json`` holds)."""
    from scipy.stats import kendalltau

    rows = []
    for entry, res in zip(comparison, scratch, strict=True):
        arch = space.validate(entry["arch"])
        rows.append(
            {
                "role": entry["role"],
                "arch": entry["arch"],
                "flops_224_final": flops(arch, FINAL_SHAPE),
                "flops_224_search": flops(arch, SEARCH_SHAPE),
                "network_flops": res["network_flops"],
                "params": res["params"],
                "supernet_score": entry["supernet_score"],
                "heldout_accuracy": res["heldout_accuracy"],
                "test_accuracy": res["test_accuracy"],
                "train_seconds": res["seconds"],
            }
        )
    scores = [r["supernet_score"] for r in rows]

    def tau(values: list[float | None]) -> dict[str, Any] | None:
        """Kendall tau with its p-value; None where undefined (a constant or missing list)."""
        if None in values or len(values) < 2:
            return None
        t, p = kendalltau(scores, values)
        if not np.isfinite(t):
            return None
        return {"tau": float(t), "p": float(p), "n": len(values)}

    chosen = rows[0]
    stage_seconds = {
        "supernet": supernet["seconds"] + 0.0,
        "search": search["seconds"] + search.get("rescore_seconds", 0.0),
        "from_scratch": sum(r["train_seconds"] for r in rows) / max(1, cfg.processes),
    }
    return {
        "command": command,
        "config": cfg.to_dict(),
        "supernet": supernet,
        "search": {k: v for k, v in search.items() if k not in ("trials", "comparison",
                                                                  "diagnostics")},
        "trials": len(search["trials"]),
        "architectures": rows,
        "kendall_tau_heldout": tau([r["heldout_accuracy"] for r in rows]),
        "kendall_tau_test": tau([r["test_accuracy"] for r in rows]),
        "chosen_respects_limit": space.max_flops is None
        or chosen["flops_224_final"] <= space.max_flops,
        "wall_seconds_this_session": times,
        "stage_seconds_recorded": stage_seconds,
    }


def idle_estimate(cpu: dict[str, float], processes: int) -> float:
    """Wall seconds the recorded CPU time takes on ``processes`` otherwise idle cores."""
    p = max(1, processes)
    return (
        cpu.get("supernet", 0.0) / p + cpu.get("search", 0.0) + cpu.get("from_scratch", 0.0) / p
    )


def table_safe(text: str) -> str:
    """An architecture string inside a Markdown table: its stage separators escaped, since
    GitHub splits table cells at every ``|``, even inside backticks."""
    return text.replace("|", "\\|")


def render_markdown(res: dict[str, Any]) -> str:
    """``results.md``: the supernet, the search and the from-scratch table with the tau."""
    cfg = res["config"]
    sn = res["supernet"]
    lines = [
        "# MobileNet-v2 space: supernet -> SemiNAS -> from scratch",
        "",
        f"Command: `{res['command']}`" if res.get("command") else "",
        "",
        f"Data `{cfg['data']}` (held-out {cfg['heldout']:.0%} of the training images for "
        f"scoring and validation), networks at width x{cfg['width_mult']}, FLOPs limit "
        f"{'none' if cfg['max_flops'] is None else format_flops(cfg['max_flops'])} "
        f"(multiply-adds of the paper's final network at 224x224).",
        "",
        "## Supernet",
        "",
        f"- {cfg['supernet_epochs']} epochs, {sn['steps']} steps of batch {cfg['supernet_batch']} "
        f"on {sn['processes']} process(es) (DDP, gloo) in {sn['seconds'] / 60:.1f} min; "
        f"replicas identical after training: {sn['replicas_identical']}",
        f"- held-out accuracy of {len(sn['random_paths'])} random feasible paths: "
        f"**{sn['mean_recalibrated']:.2f}%** after batch-norm recalibration, "
        f"{sn['mean_running_stats']:.2f}% with the supernet's running statistics "
        f"(no recalibration, as the SemiNAS code)",
        "",
        "## Search",
        "",
    ]
    s = res["search"]
    lines += [
        f"- SemiNAS preset `{s['preset']}`: {s['queries']} architectures scored on the supernet "
        f"in {s['seconds'] / 60:.1f} min; supernet trained {cfg['continue_steps']} more steps "
        f"before each iteration (paths from the pool)",
        f"- largest FLOPs of any scored architecture: {format_flops(s['max_trial_flops'])} "
        f"(limit {'none' if s['max_flops'] is None else format_flops(s['max_flops'])}); "
        f"over-limit decodes rejected before evaluation (never charged): "
        f"{s['over_limit_decodes_rejected']}",
        f"- chosen: `{s['chosen']['arch']}` (query {s['chosen']['query']}, supernet score "
        f"{s['chosen']['supernet_score']:.2f}%)",
        "",
        "## From scratch (same recipe for all: "
        f"{cfg['scratch_epochs']} epochs, batch {cfg['scratch_batch']}, lr {cfg['scratch_lr']}, "
        f"cosine, {'final' if cfg['final_widths'] else 'search'} widths x{cfg['width_mult']})",
        "",
        "| role | architecture | FLOPs (224, final widths) | FLOPs (this net) | params | "
        "supernet score | held-out acc | test acc |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["architectures"]:
        test = "-" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2f}%"
        lines.append(
            f"| {r['role']} | `{table_safe(r['arch'])}` | {format_flops(r['flops_224_final'])} | "
            f"{format_flops(r['network_flops'])} | {r['params'] / 1e6:.2f}M | "
            f"{r['supernet_score']:.2f}% | {r['heldout_accuracy']:.2f}% | {test} |"
        )
    def tau_text(t: dict[str, Any] | None) -> str:
        return "undefined" if t is None else f"**{t['tau']:.2f}** (n = {t['n']}, p = {t['p']:.2f})"

    lines += [
        "",
        "Kendall tau between supernet score and from-scratch accuracy: held-out "
        f"{tau_text(res['kendall_tau_heldout'])}, test {tau_text(res['kendall_tau_test'])}.",
        "",
        f"Chosen architecture within the FLOPs limit: {res['chosen_respects_limit']}.",
        "",
    ]
    w = res["wall_seconds_this_session"]
    lines.append(
        "Wall time of this session: "
        + ", ".join(f"{k.replace('_', ' ')} {v / 60:.1f} min" for k, v in w.items())
        + "."
    )
    c = res.get("cpu_seconds_this_session")
    if c:
        lines.append(
            "CPU time (all processes): "
            + ", ".join(f"{k.replace('_', ' ')} {v / 60:.1f} min" for k, v in c.items())
            + f"; on an otherwise idle machine with {cfg['processes']} cores that is about "
            f"{idle_estimate(c, cfg['processes']) / 60:.0f} min of wall time (supernet and "
            f"from-scratch stages on {cfg['processes']} processes, the search on one)."
        )
    return "\n".join(x for x in lines if x is not None) + "\n"
