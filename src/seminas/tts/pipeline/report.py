"""The TTS pipeline's results assembled (``results.json``) and written for a person
(``README.md``, with the figures and WAVs beside it)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

from seminas.tts.pipeline.config import TTSPipelineConfig


def assemble(
    cfg: TTSPipelineConfig,
    data: Any,
    supernet: dict[str, Any],
    search: dict[str, Any],
    scratch: list[dict[str, Any]],
    measures: list[dict[str, Any]],
    command: str | None,
) -> dict[str, Any]:
    comparison = search["comparison"]
    rows = []
    for entry, trained in zip(comparison, scratch, strict=False):
        rows.append({
            "role": entry["role"], "arch": entry["arch"],
            "supernet_dfr": entry["supernet"]["dfr"],
            "scratch_dfr_free": trained["validation_free"]["dfr"],
            "scratch_dfr_teacher": trained["validation_teacher"]["dfr"],
            "scratch_mel_loss": trained["mel_loss_last_100"],
            "parameters": trained["parameters"],
        })  # fmt: skip
    sup = [r["supernet_dfr"] for r in rows]
    tau = {}
    for key in ("scratch_dfr_free", "scratch_dfr_teacher"):
        values = [r[key] for r in rows]
        tau[key] = {
            "kendall_tau": float(kendalltau(sup, values)[0]) if len(rows) > 2 else None,
            "spearman_rho": float(spearmanr(sup, values)[0]) if len(rows) > 2 else None,
            "architectures": len(rows),
        }
    return {
        "command": command,
        "config": cfg.to_dict(),
        "data": data.describe(),
        "supernet": supernet,
        "search": {k: v for k, v in search.items() if k not in ("trials", "diagnostics")},
        "search_trials": search["trials"],
        "supernet_vs_scratch": {"architectures": rows, "correlation": tau},
        "measures": measures,
    }


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def render_markdown(res: dict[str, Any]) -> str:
    cfg = res["config"]
    sup, search = res["supernet"], res["search"]
    lines = [
        "# Text-to-speech search: supernet, SemiNAS on DFR, from-scratch comparison",
        "",
        f"Command: `{res['command'] or 'seminas tts pipeline'}`",
        "",
        f"- Data: {res['data']}",
        f"- Model: Transformer-TTS, hidden {cfg['hidden']}, {cfg['reduction']} mel frames per "
        f"decoder step, batch {cfg['batch_size']}",
        f"- Supernet: {sup['steps']} steps, one uniformly drawn path per step, "
        f"{sup['parameters']:,} parameters; mel loss (last 100 steps) "
        f"{_f(sup['mel_loss_last_100'])}",
        f"- Search: SemiNAS preset `{search['preset']}`, {search['queries']} architectures scored "
        f"by DFR on {cfg['score_utterances']} validation utterances ({cfg['score_mode']}), "
        f"{search['seconds'] / 60:.1f} min",
        f"- Chosen: `{search['chosen']['arch']}` (supernet DFR "
        f"{_f(search['chosen']['supernet_dfr'])}, query {search['chosen']['query']})",
        f"- From scratch: {cfg['scratch_steps']} steps each, the same recipe for every network",
        "",
        "## Supernet DFR of a few paths (validation, free-running)",
        "",
        "| path | architecture | DFR | focus rate | coverage |",
        "|---|---|---|---|---|",
    ]
    for p in sup["paths"]:
        lines.append(f"| {p['role']} | `{p['arch']}` | {_f(p['dfr'])} | {_f(p['focus_rate'])} "
                     f"| {_f(p['coverage'])} |")  # fmt: skip
    svs = res["supernet_vs_scratch"]
    corr = svs["correlation"]
    lines += [
        "",
        "## Supernet DFR against from-scratch DFR",
        "",
        f"Kendall tau over {corr['scratch_dfr_free']['architectures']} architectures: "
        f"{_f(corr['scratch_dfr_free']['kendall_tau'], 2)} against from-scratch free-running "
        f"DFR, {_f(corr['scratch_dfr_teacher']['kendall_tau'], 2)} against teacher-forced DFR "
        f"(Spearman {_f(corr['scratch_dfr_free']['spearman_rho'], 2)} / "
        f"{_f(corr['scratch_dfr_teacher']['spearman_rho'], 2)}); validation utterances.",
        "",
        "| role | architecture | supernet DFR | scratch DFR (free) | scratch DFR (teacher) "
        "| mel loss | parameters |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in svs["architectures"]:
        lines.append(
            f"| {r['role']} | `{r['arch']}` | {_f(r['supernet_dfr'])} | "
            f"{_f(r['scratch_dfr_free'])} | {_f(r['scratch_dfr_teacher'])} | "
            f"{_f(r['scratch_mel_loss'])} | {r['parameters']:,} |"
        )
    m = {x["role"]: x for x in res["measures"]}
    roles = [r for r in ("chosen", "baseline", "random") if r in m]
    lines += [
        "",
        "## Chosen, baseline and random on the test and robustness sets",
        "",
        "| measure | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]

    def row(name: str, fn, digits: int = 3) -> None:
        lines.append(f"| {name} | " + " | ".join(_f(fn(m[r]), digits) for r in roles) + " |")

    row("test DFR, teacher forced", lambda x: x["test_teacher_forced"]["dfr"])
    row("test focus rate, teacher forced", lambda x: x["test_teacher_forced"]["focus_rate"])
    row("test coverage, teacher forced", lambda x: x["test_teacher_forced"]["coverage"])
    row("test DFR, free-running", lambda x: x["test_free_running"]["dfr"])
    row("test focus rate, free-running", lambda x: x["test_free_running"]["focus_rate"])
    row("test coverage, free-running", lambda x: x["test_free_running"]["coverage"])
    row("test MCD-DTW (dB, log-mel cepstra)", lambda x: x["test_mcd"], 2)
    row("test alignment failure rate", lambda x: x["test_failure_rate"], 2)
    row("robustness failure rate", lambda x: x["robustness_failure_rate"], 2)
    kinds = sorted({k for r in roles for k in m[r]["robustness_failure_rate_by_kind"]})
    for k in kinds:
        row(f"- {k} inputs", lambda x, k=k: x["robustness_failure_rate_by_kind"].get(k), 2)
    row("robustness DFR, free-running", lambda x: x["robustness_free_running_dfr"])
    lines.append("| parameters | " + " | ".join(f"{m[r]['parameters']:,}" for r in roles) + " |")
    row("CPU synthesis s per audio s (1 thread, Griffin-Lim excluded)",
        lambda x: x["synthesis_seconds_per_audio_second"], 2)  # fmt: skip
    lines += ["", "Architectures: " + "; ".join(f"{r} `{m[r]['arch']}`" for r in roles), ""]
    lines += ["## Look and listen", ""]
    for r in roles:
        for png in m[r]["files"]["figure"]:
            lines.append(f"![{r}](figures/{png})")
    lines.append("")
    wavs = sorted({w for r in roles for w in m[r]["files"]["wavs"]})
    if wavs:
        ids = sorted({w.split("-")[0] for w in wavs})
        for uid in ids:
            lines.append(f"- {uid}: [recording](wavs/{uid}-recorded.wav), " + ", ".join(
                f"[{r}](wavs/{uid}-{r}.wav)" for r in roles if f"{uid}-{r}.wav" in wavs))
    wall, cpu = res.get("wall_seconds_this_session", {}), res.get("cpu_seconds_this_session", {})
    if wall:
        lines += ["", "## Time (this session)", "", "| stage | wall min | CPU min |",
                  "|---|---|---|"]  # fmt: skip
        for k in wall:
            lines.append(f"| {k} | {wall[k] / 60:.1f} | {cpu.get(k, 0) / 60:.1f} |")
    lines += [
        "",
        "What these are not: DFR, focus rate and coverage measure the attention, not the speech; "
        "MCD here compares mel-cepstra of log-mels along a DTW path (comparable between these "
        "networks only); the alignment failure rate is an automatic stand-in for the paper's "
        "human-judged robustness errors, and nothing here measures intelligibility "
        "(docs/tts.md).",
        "",
    ]
    return "\n".join(lines)
