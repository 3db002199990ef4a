"""The TTS pipeline end to end: supernet -> SemiNAS on DFR -> from scratch -> measures, each
stage resumed from what is stored, then the report (``README.md``, ``results.json``, plots and
WAVs) with wall and CPU times."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError
from seminas.progress import NO_PROGRESS, Progress
from seminas.supernet.pipeline.run import cpu_seconds
from seminas.tts.pipeline.config import TTSPipelineConfig, validate_config
from seminas.tts.pipeline.store import CONFIG_JSON, RESULTS_JSON, RESULTS_MD, read_json, write_json


def run_pipeline(
    cfg: TTSPipelineConfig,
    out_dir: str | os.PathLike,
    progress: Progress | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the pipeline into ``out_dir``; returns the results (also written)."""
    from seminas.experiments.store import atomic_write_text
    from seminas.tts.pipeline.data import open_data
    from seminas.tts.pipeline.measures import stage_measures
    from seminas.tts.pipeline.report import assemble, render_markdown
    from seminas.tts.pipeline.stages import stage_scratch, stage_search, stage_supernet

    progress = progress or NO_PROGRESS
    say = log or (lambda text: None)
    validate_config(cfg)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    kept = read_json(out / CONFIG_JSON)
    if kept is not None and kept != json.loads(json.dumps(cfg.to_dict())):
        raise SeminasError(
            f"{out} holds a TTS pipeline run with a different configuration: give another --out "
            f"(or delete {out})"
        )
    data = open_data(cfg, out, progress)  # reads and checks the corpus before any training
    write_json(out / CONFIG_JSON, cfg.to_dict())
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def timed(name: str, line: str, fn: Callable[[], Any]) -> Any:
        say(line)
        t, c = time.perf_counter(), cpu_seconds()
        value = fn()
        times[name] = time.perf_counter() - t
        cpu[name] = cpu_seconds() - c
        return value

    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    supernet = timed(
        "supernet",
        f"1/4 supernet: {cfg.supernet_steps} steps, hidden {cfg.hidden}, one random path per "
        f"step, {data.describe()}",
        lambda: stage_supernet(cfg, out, progress),
    )
    search = timed(
        "search",
        f"2/4 search: SemiNAS ({cfg.preset}), {cfg.budget} architectures scored by DFR on "
        f"{cfg.score_utterances} validation utterances ({cfg.score_mode})",
        lambda: stage_search(cfg, out, progress),
    )
    comparison = search["comparison"]
    scratch = timed(
        "from_scratch",
        f"3/4 from scratch: {len(comparison)} architectures, {cfg.scratch_steps} steps each, "
        f"{cfg.processes} at a time",
        lambda: stage_scratch(cfg, out, comparison, progress),
    )
    measures = timed(
        "measures",
        "4/4 measures: chosen, baseline and random on the test and robustness sets",
        lambda: stage_measures(cfg, out, comparison, progress),
    )
    times["total_this_session"] = time.perf_counter() - wall0
    cpu["total_this_session"] = cpu_seconds() - cpu0
    results = assemble(cfg, data, supernet, search, scratch, measures, command)
    results["wall_seconds_this_session"] = times
    results["cpu_seconds_this_session"] = cpu
    write_json(out / RESULTS_JSON, results)
    atomic_write_text(out / RESULTS_MD, render_markdown(results))
    return results
