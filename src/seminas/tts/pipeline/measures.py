"""Stage 4 of the TTS pipeline: the chosen, baseline and random networks (trained from scratch
with one recipe) measured on the test utterances and the robustness set -- alignment under
teacher forcing and free-running, mel cepstral distortion, alignment failures, parameters and
CPU synthesis speed -- with attention and mel plots and a few WAVs to look at and listen to."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seminas.progress import NO_PROGRESS, Progress
from seminas.tts.pipeline.config import TTSPipelineConfig
from seminas.tts.pipeline.store import save, saved

MEASURED_ROLES = ("chosen", "baseline", "random")
SYNTH_BATCH = 10


def _free_run(model, arch, texts: list, expected_steps: list[float], seed: int):
    from seminas.tts.inference import free_running_batch

    results = []
    for i in range(0, len(texts), SYNTH_BATCH):
        chunk = texts[i : i + SYNTH_BATCH]
        limit = int(np.ceil(2 * max(expected_steps[i : i + SYNTH_BATCH]))) + 1
        results.extend(free_running_batch(model, arch, chunk, limit, seed=seed))
    return results


def measure_network(
    cfg_dict: dict[str, Any], out_text: str, item: int, role: str, report: Any = None
) -> dict[str, Any]:
    """Every measure of one trained network (in a worker process, one thread)."""
    from seminas.tts.alignment import alignment_scores
    from seminas.tts.metrics import alignment, alignment_failure, mel_cepstral_distortion
    from seminas.tts.pipeline.data import open_data
    from seminas.tts.pipeline.stages import load_trained
    from seminas.tts.text import text_to_ids

    cfg = TTSPipelineConfig(**cfg_dict)
    out = Path(out_text)
    torch.set_num_threads(1)
    data = open_data(cfg, out)
    model = load_trained(cfg, out, item, data)
    arch = model.arch
    r = model.reduction
    feats = data.features
    tests = data.test_items(cfg.measure_utterances)
    teacher = alignment_scores(
        model, arch, feats.batches(tests, cfg.batch_size, shuffle=False), "teacher", cfg.seed
    )
    expected = [it.mel.shape[0] / r for it in tests]
    start = time.perf_counter()
    free = _free_run(model, arch, [torch.from_numpy(it.ids) for it in tests], expected, cfg.seed)
    synth_seconds = time.perf_counter() - start
    frames = sum(res.steps * r for res in free)
    audio_seconds = frames * feats.cfg.hop_length / feats.cfg.sample_rate
    per_utt = []
    for it, res, exp in zip(tests, free, expected, strict=False):
        per_utt.append({
            "id": it.id, **alignment(res.attention), "steps": res.steps, "stopped": res.stopped,
            "failure": alignment_failure(res.attention, res.stopped, res.steps, exp),
            "mcd": mel_cepstral_distortion(feats.denormalize(res.mel), feats.denormalize(it.mel)),
        })  # fmt: skip
    if report is not None:
        report.put((item, 1, 2))
    hard = data.hard_inputs()
    hard_expected = [h.expected_frames / r for h in hard]
    hard_runs = _free_run(model, arch, [torch.tensor(text_to_ids(h.text)) for h in hard],
                          hard_expected, cfg.seed)  # fmt: skip
    per_hard = [
        {"id": h.id, "kind": h.kind, **alignment(res.attention), "steps": res.steps,
         "stopped": res.stopped,
         "failure": alignment_failure(res.attention, res.stopped, res.steps, exp)}
        for h, res, exp in zip(hard, hard_runs, hard_expected, strict=False)
    ]  # fmt: skip
    files = _listen_and_look(cfg, out, role, tests, free, feats)
    if report is not None:
        report.put((item, 2, 2))

    def rate(rows: list[dict]) -> float:
        return float(np.mean([bool(x["failure"]) for x in rows])) if rows else float("nan")

    kinds = sorted({h["kind"] for h in per_hard})
    return {
        "role": role,
        "arch": str(arch),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "test_teacher_forced": teacher,
        "test_free_running": {k: float(np.mean([u[k] for u in per_utt]))
                              for k in ("dfr", "focus_rate", "coverage")},  # fmt: skip
        "test_mcd": float(np.nanmean([u["mcd"] for u in per_utt])),
        "test_failure_rate": rate(per_utt),
        "robustness_failure_rate": rate(per_hard),
        "robustness_failure_rate_by_kind": {
            k: rate([h for h in per_hard if h["kind"] == k]) for k in kinds
        },
        "robustness_free_running_dfr": float(np.mean([h["dfr"] for h in per_hard])),
        "synthesis_seconds_per_audio_second": synth_seconds / max(audio_seconds, 1e-9),
        "synthesis_threads": 1,
        "files": files,
        "test_utterances": per_utt,
        "robustness_inputs": per_hard,
    }


def _listen_and_look(cfg, out: Path, role: str, tests, free, feats) -> dict[str, list[str]]:
    """WAVs (Griffin-Lim of the generated mel; the recording beside it) and PNGs of the first
    test utterance's attention and mel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seminas.tts.audio import mel_to_wave, write_wav

    wav_dir, fig_dir = out / "wavs", out / "figures"
    wav_dir.mkdir(parents=True, exist_ok=True)
    fig_dir.mkdir(parents=True, exist_ok=True)
    wavs = []
    for it, res in list(zip(tests, free, strict=False))[: cfg.wavs]:
        path = wav_dir / f"{it.id}-{role}.wav"
        write_wav(path, mel_to_wave(feats.denormalize(res.mel), feats.cfg), feats.cfg.sample_rate)
        wavs.append(path.name)
        recorded = wav_dir / f"{it.id}-recorded.wav"
        if not recorded.exists():
            shutil.copyfile(feats.corpus.root / "wavs" / f"{it.id}.wav", recorded)
    it, res = tests[0], free[0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    axes[0].imshow(res.attention.T, origin="lower", aspect="auto", cmap="viridis")
    axes[0].set(title=f"{role}: attention, free-running ({it.id})", xlabel="decoder step",
                ylabel="character")  # fmt: skip
    for ax, mel, title in ((axes[1], res.mel, "generated"), (axes[2], it.mel, "recorded")):
        ax.imshow(feats.denormalize(mel).T, origin="lower", aspect="auto", cmap="magma")
        ax.set(title=f"{role}: {title} log-mel" if title == "generated" else
               f"recording {it.id}", xlabel="frame", ylabel="mel band")  # fmt: skip
    fig.tight_layout()
    png = fig_dir / f"{role}.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return {"wavs": wavs, "figure": [png.name]}


def stage_measures(
    cfg: TTSPipelineConfig,
    out: Path,
    comparison: list[dict[str, Any]],
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Measure the chosen, baseline and random networks not measured yet (stored one by one)."""
    from seminas.tts.pipeline.pool import run_parallel

    progress = progress or NO_PROGRESS
    items = [(i, e["role"]) for i, e in enumerate(comparison) if e["role"] in MEASURED_ROLES]
    results: dict[int, dict[str, Any]] = {}
    for i, _ in items:
        kept = saved(out, "measures", i)
        if kept is not None and kept.get("arch") == comparison[i]["arch"]:
            results[i] = kept
    todo = {i: (measure_network, (cfg.to_dict(), str(out), i, role))
            for i, role in items if i not in results}  # fmt: skip
    progress.start("measures (test and robustness sets)", len(items), "networks")
    progress.advance(len(results))
    try:
        def finished(i: int, result: dict[str, Any]) -> None:
            save(out, "measures", result, i)
            results[i] = result

        run_parallel(todo, cfg.processes, finished, progress, lambda i: comparison[i]["role"])
    finally:
        progress.finish()
    return [results[i] for i, _ in items]
