"""benchmarks/lead_table.py: who leads at each budget, on the report or the search metric."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "lead_table.py"


@pytest.fixture(scope="module")
def lead():
    spec = importlib.util.spec_from_file_location("lead_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(label: str, b: int, report: float, rsem: float, search: float | None = None,
         ssem: float | None = None) -> dict:
    row = {"method": label, "strategy": label.split("[")[0], "budget": b, "runs": 100,
           "report_mean": report, "report_sem": rsem}
    if search is not None:
        row.update(search_mean=search, search_sem=ssem)
    return row


def _folder(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"dataset": "cifar100", "rows": rows}))
    return folder


def test_short_label_keeps_the_score_name_only(lead) -> None:
    label = "x[score_filter=file:runs/z/scores.npz#synflow;filter_keep=0.1]"
    assert lead.short_label(label) == "x[score_filter=synflow;filter_keep=0.1]"
    assert lead.short_label("acenas[weak_labels=file:a/b.npz#s]") == "acenas[weak_labels=s]"
    assert lead.short_label("weaknas") == "weaknas"


def test_best_is_bold_and_within_one_error_is_starred(lead, tmp_path: Path) -> None:
    a = _folder(tmp_path, "a", [_row("a", 50, 72.9, 0.03, 61.30, 0.001)])
    b = _folder(tmp_path, "b", [_row("b", 50, 72.87, 0.04, 61.32, 0.0)])
    c = _folder(tmp_path, "c", [_row("c", 50, 72.5, 0.05)])  # no search column
    methods = lead.collect([a, b, c])["cifar100"]
    report = lead.lead_table(methods, "report")
    assert "| a | **72.90 ± 0.03** |" in report
    assert "| b | 72.87 ± 0.04 * |" in report  # 0.03 behind, within b's 0.04
    assert "| c | 72.50 ± 0.05 |" in report  # 0.40 behind: neither
    search = lead.lead_table(methods, "search")
    assert "| b | **61.320 ± 0.000** |" in search
    assert "| a | 61.300 ± 0.001 |" in search  # 0.02 behind, more than 0.001
    assert "| c |" not in search and "Left out (no search_mean in their summary): c" in search


def test_stored_peers_and_folders_share_a_dataset_table(lead, tmp_path: Path) -> None:
    stored = tmp_path / "peers.json"
    stored.write_text(json.dumps([{"dataset": "cifar100", "methods": [
        {"strategy": "weaknas", "rows": [_row("weaknas", 50, 72.0, 0.11)]}]}]))
    new = _folder(tmp_path, "new", [_row("semi", 50, 72.57, 0.08)])
    table = lead.lead_table(lead.collect([stored, new])["cifar100"])
    assert table.index("weaknas") < table.index("semi") and "**72.57 ± 0.08**" in table


def test_a_missing_summary_is_a_one_line_usage_error(lead, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        lead.main([str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "nowhere: no summary.json there" in capsys.readouterr().err


def test_a_corrupt_summary_is_a_one_line_usage_error(lead, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "summary.json").write_text("{not json")
    with pytest.raises(SystemExit) as exit_info:
        lead.main([str(folder)])
    assert exit_info.value.code == 2 and "not readable JSON" in capsys.readouterr().err
