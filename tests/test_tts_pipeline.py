"""The TTS pipeline end to end on the shared Harvard corpus at a few-steps scale: every stage
runs, the report has every measure, a resumed run redoes nothing, the search is exact and
deterministic, and the supernet trains data-parallel under torchrun (the paper-tts path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import need

SMOKE = dict(
    hidden=16, supernet_steps=6, warmup_steps=4, scratch_steps=4, budget=6, tau_archs=4,
    score_utterances=3, measure_utterances=2, wavs=1, continue_steps=2, batch_size=8,
    overrides={"initial": 4, "per_iteration": 2, "unlabeled": 10, "pretrain_epochs": 2,
               "epochs": 1, "top_k": 4},
)  # fmt: skip


@pytest.fixture(scope="module")
def corpus_dir() -> Path:
    return need("tts/harvard-espeak/metadata.csv").parent


def _config(corpus_dir: Path, **changes):
    from seminas.tts.pipeline import config_from_preset

    return config_from_preset("tiny", data=str(corpus_dir), **{**SMOKE, **changes})


def test_pipeline_end_to_end_and_resume(corpus_dir, tmp_path):
    from seminas.tts.pipeline import run_pipeline

    out = tmp_path / "run"
    res = run_pipeline(_config(corpus_dir), out)
    roles = [m["role"] for m in res["measures"]]
    assert roles[:2] == ["chosen", "baseline"] and "random" in roles
    for m in res["measures"]:
        for key in ("dfr", "focus_rate", "coverage"):
            assert 0 <= m["test_teacher_forced"][key] <= 1
            assert 0 <= m["test_free_running"][key] <= 1
        assert 0 <= m["test_failure_rate"] <= 1 and 0 <= m["robustness_failure_rate"] <= 1
        assert set(m["robustness_failure_rate_by_kind"]) == {"long", "repeat", "single-word"}
        assert np.isfinite(m["test_mcd"]) and m["test_mcd"] > 0
        assert m["parameters"] > 0 and m["synthesis_seconds_per_audio_second"] > 0
        for wav in m["files"]["wavs"]:
            assert (out / "wavs" / wav).stat().st_size > 1000
        assert (out / "figures" / m["files"]["figure"][0]).is_file()
    corr = res["supernet_vs_scratch"]["correlation"]["scratch_dfr_free"]
    assert corr["architectures"] == len(res["search"]["comparison"]) >= 3
    assert res["search"]["queries"] == 6
    text = (out / "README.md").read_text()
    assert "Kendall tau" in text and "robustness failure rate" in text
    assert json.loads((out / "results.json").read_text())["config"]["hidden"] == 16
    lines = (out / "stages.jsonl").read_text().splitlines()
    again = run_pipeline(_config(corpus_dir), out)  # everything stored: nothing is redone
    assert (out / "stages.jsonl").read_text().splitlines() == lines
    assert again["search"]["chosen"] == res["search"]["chosen"]
    assert again["measures"] == res["measures"]


def test_a_changed_configuration_is_refused(corpus_dir, tmp_path):
    from seminas.errors import SeminasError
    from seminas.tts.pipeline import run_pipeline

    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"hidden": 99}))
    with pytest.raises(SeminasError, match="different configuration"):
        run_pipeline(_config(corpus_dir), out)


def test_search_on_the_supernet_is_exact_and_deterministic(corpus_dir, tmp_path):
    """Two searches of 8 queries on copies of one supernet give the same trials, never query
    an architecture twice and are charged exactly the budget."""
    from seminas.strategies import make_strategy, run_search
    from seminas.supernet.evaluator import SupernetBackend
    from seminas.tts.evaluator import TTSSupernetEvaluator
    from seminas.tts.pipeline.data import open_data
    from seminas.tts.pipeline.stages import new_model, new_trainer

    cfg = _config(corpus_dir)
    data = open_data(cfg, tmp_path)
    state = new_trainer(cfg, new_model(cfg, data, seed=0), 0, 1).state_dict()
    runs = []
    for _ in range(2):
        trainer = new_trainer(cfg, new_model(cfg, data, seed=0), 0, 1)
        trainer.load_state_dict(state)
        evaluator = TTSSupernetEvaluator(
            trainer, data.validation_batches(2, 8), continue_steps=1,
            train_batches=data.train_batches(8, 0), seed=0,
        )  # fmt: skip
        strategy = make_strategy("seminas", "tts-cpu", **SMOKE["overrides"])
        result = run_search(strategy, evaluator, 8, 0, backend=SupernetBackend())
        runs.append([(t.arch, t.search_metric) for t in result.trials])
        assert evaluator.num_unique_queries == 8
    assert runs[0] == runs[1]
    assert len({a for a, _ in runs[0]}) == 8


@pytest.mark.slow
def test_supernet_trains_data_parallel_under_torchrun(corpus_dir, tmp_path):
    """The paper-tts GPU path at its search size (hidden 64), 2 CPU ranks with gloo."""
    ckpt = tmp_path / "supernet.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), "-m", "seminas.cli", "tts", "train-supernet",
           "--preset", "paper-tts", "--data", str(corpus_dir), "--utterances", "600",
           "--supernet-steps", "2",
           "--threads", "1", "--quiet", "--out", str(ckpt)]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 2
    assert "2 process(es)" in done.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_input_is_one_line(tmp_path, capsys):
    from seminas.cli import main

    assert main(["tts", "pipeline", "--preset", "nope", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    code = main(["tts", "pipeline", "--preset", "tiny", "--data", str(tmp_path / "absent"),
                 "--out", str(tmp_path / "o2")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "absent" in err and err.count("\n") == 0
