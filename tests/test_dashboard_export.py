"""`tierd export --out DIR`: the dashboard's ten snapshots as JSON files, empty arrays before
there is data, rows after, and a failed export leaves the previous snapshot whole."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_state_dir, run_tierd, state_conn
from tierd.costs.ledger import CallRecord, Ledger
from tierd.dashboard.service import SNAPSHOTS, write_snapshot

FILES = {f"{s.name}.json" for s in SNAPSHOTS}


@pytest.fixture()
def config(tmp_path, packaged_models_dir):
    state = make_state_dir(tmp_path, packaged_models_dir)
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{state}"\n')
    return path


def export(config, out) -> dict[str, dict]:
    done = run_tierd("--config", str(config), "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == FILES
    return {p.stem: json.loads(p.read_text()) for p in out.iterdir()}


def test_fresh_install_exports_empty_arrays_then_ledger_rows(config, tmp_path):
    out = tmp_path / "site"
    first = export(config, out)
    assert len(FILES) == 10 and all(section["generated_at"] for section in first.values())
    assert first["calls"]["calls"] == [] and first["routing"]["tiers"] == []
    assert first["costs"]["calls"] == 0 and len(first["costs_daily"]["days"]) == 30
    assert first["job_history"]["runs"] == [] and first["bench"]["runs"] == []
    assert first["status"]["hosts"][0]["models"] == []
    assert [j["name"] for j in first["jobs"]["jobs"]] == ["index-rebuild"]
    names = {m["name"] for m in first["models"]["models"]}
    assert {"packaged:gemma3-270m", "packaged:all-minilm"} <= names

    ledger = Ledger(state_conn(tmp_path / "state" / "state.db"))
    ledger.record(CallRecord("r1", "extract", "cheap", "openai", "gpt-test", "openai", 100, 20,
                             0.05, 300.0, 80.0, None, False, "ok"))
    ledger.close()
    second = export(config, out)
    assert [c["request_id"] for c in second["calls"]["calls"]] == ["r1"]
    assert second["costs"]["cost_usd"] == pytest.approx(0.05)
    today = second["costs_daily"]["days"][-1]
    assert today["by_provider"] == {"openai": pytest.approx(0.05)}
    assert today["by_tier"] == {"cheap": pytest.approx(0.05)}
    assert second["routing"]["tiers"][0]["tier"] == "cheap"
    assert second["status"]["generated_at"] >= first["status"]["generated_at"]


def test_a_failed_export_leaves_the_previous_snapshot_whole(tmp_path):
    out = tmp_path / "site"
    write_snapshot(out, {"status": {"v": 1}, "costs": {"v": 1}})

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        write_snapshot(out, {"status": {"v": 2}, "costs": {"v": float("nan"),
                                                           "bad": {Unserialisable(): 1}}})
    assert sorted(p.name for p in out.iterdir()) == ["costs.json", "status.json"]
    assert json.loads((out / "status.json").read_text()) == {"v": 1}
    assert json.loads((out / "costs.json").read_text()) == {"v": 1}
