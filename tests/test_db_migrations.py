"""Schema migrations: a database from the previous release opens, migrates and keeps its
rows; a newer one is refused; a failing step leaves nothing half-done."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tierd.app import STATE_SCHEMAS, open_state_db
from tierd.bench.store import list_runs
from tierd.config import parse_text
from tierd.costs.ledger import Ledger
from tierd.db import Schema, SchemaTooNew, connect, execute_script, migrate, schema_versions
from tierd.index import store
from tierd.index.build import build_index
from tierd.index.chunking import CHUNKER_VERSION
from tierd.index.embedder import hashing_embedder
from tierd.index.search import active_model, search
from tierd.index.sources import SourceSpec
from tierd.jobs import history
from tierd.models.footprints import FootprintStore, Measured

PREVIOUS = Path(__file__).parent / "data" / "previous_release"


@pytest.fixture
def state_dir(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    for name in ("state.db", "index.db"):
        shutil.copy(PREVIOUS / name, state / name)
    return state


def test_a_state_db_from_the_previous_release_migrates_and_keeps_its_rows(state_dir):
    config = parse_text(f'state_dir = "{state_dir}"\n')
    conn = open_state_db(config)
    assert schema_versions(conn) == {s.owner: s.version for s in STATE_SCHEMAS}

    ledger = Ledger(conn)
    assert sorted(r["request_id"] for r in ledger.recent(10)) == [
        "req-0", "req-1", "req-2", "req-cloud"]
    cloud = ledger.rows("req-cloud")[0]
    assert cloud["fallback_reason"] == "capacity_exhausted"
    # Rows from before list prices were kept are worth what they cost, and had no key.
    assert (cloud["list_usd"], cloud["key"], cloud["plan"]) == (cloud["cost_usd"], "", "")
    # Old rows got call ids and count in the running totals the reports read.
    old = conn.execute("SELECT COUNT(*), COUNT(DISTINCT call_id), SUM(cost_usd) FROM calls")
    calls, call_ids, usd = old.fetchone()
    assert calls == call_ids == 4
    totals = conn.execute("SELECT SUM(calls), SUM(cost_usd), SUM(list_usd) FROM call_totals "
                          "WHERE key = ''").fetchone()
    assert tuple(totals) == (calls, pytest.approx(usd), pytest.approx(usd))
    assert ledger.metrics().providers
    footprints = FootprintStore(connect(state_dir / "state.db"))
    # Migrated to one slot, placement unknown (measured before tierd placed layers).
    assert footprints.lookup("local", "packaged:gemma3-270m", 2048, "f16") == Measured(
        433_500_000, gpu_bytes=0, gpu_layers=None)
    [run] = history.list_runs(conn)
    assert (run.job, run.status, run.counts) == ("index-rebuild", "ok", {"files_seen": 3})
    [bench] = list_runs(conn)
    assert bench.model == "packaged:gemma3-270m" and bench.row("decode_tps", 1) is not None

    again = open_state_db(config)  # a second open finds nothing to do
    assert schema_versions(again) == schema_versions(conn)


def test_an_index_db_from_the_previous_release_migrates_and_still_searches(state_dir):
    conn = connect(state_dir / "index.db", vec=True)
    store.ensure_schema(conn)
    assert schema_versions(conn) == {"index": store.SCHEMA.version}
    assert active_model(conn) == "embedded:local:packaged:all-minilm"
    [hit] = search(conn, "backups", None, k=5)
    assert (hit.source, hit.path, hit.start_line) == ("notes", "a.md", 1)
    # The next build writes into the migrated tables: chunker version, headers.
    # (tests/test_index_upgrade.py shows an unchanged file is chunked again too.)
    notes = state_dir / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Backups\nhello backups\n")
    embedder = hashing_embedder(4, "embedded:local:packaged:all-minilm")
    built = build_index(conn, [SourceSpec("notes", str(notes))], embedder)
    assert (built.files_indexed, built.errors) == (1, [])
    assert conn.execute("SELECT chunker FROM files").fetchone()[0] == CHUNKER_VERSION
    assert conn.execute("SELECT header FROM chunks").fetchone()[0] == "a.md\nBackups"


def test_a_database_from_a_newer_tierd_is_refused(tmp_path):
    conn = connect(tmp_path / "state.db")
    newer = Schema("ledger", STATE_SCHEMAS[0].steps + ("ALTER TABLE calls ADD COLUMN x TEXT;",))
    migrate(conn, [newer])
    known = STATE_SCHEMAS[0].version
    with pytest.raises(SchemaTooNew,
                       match=rf"ledger tables at version {known + 1}, this tierd knows {known}"):
        migrate(conn, STATE_SCHEMAS)


def test_a_failing_step_rolls_the_whole_owner_back(tmp_path):
    conn = connect(tmp_path / "state.db")
    broken = Schema("things", ("CREATE TABLE things (id INTEGER PRIMARY KEY);",
                               "INSERT INTO things VALUES (1); INSERT INTO nowhere VALUES (1);"))
    with pytest.raises(Exception, match="nowhere"):
        migrate(conn, [broken])
    assert schema_versions(conn) == {}
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'things'").fetchall() == []


def test_steps_run_in_order_and_only_once(tmp_path):
    conn = connect(tmp_path / "state.db")
    seen: list[int] = []
    steps = ("CREATE TABLE t (a INTEGER);", lambda c: seen.append(1),
             "ALTER TABLE t ADD COLUMN b INTEGER;")
    migrate(conn, [Schema("t", steps[:2])])
    migrate(conn, [Schema("t", steps)])
    migrate(conn, [Schema("t", steps)])
    assert seen == [1]
    assert [r[1] for r in conn.execute("PRAGMA table_info(t)")] == ["a", "b"]
    assert schema_versions(conn) == {"t": 3}


def test_a_script_keeps_a_trigger_body_whole(tmp_path):
    conn = connect(tmp_path / "x.db")
    execute_script(conn, """
CREATE TABLE a (v INTEGER);
CREATE TABLE log (v INTEGER);
CREATE TRIGGER a_log AFTER INSERT ON a BEGIN
    INSERT INTO log VALUES (new.v);
    INSERT INTO log VALUES (new.v * 10);
END;
INSERT INTO a VALUES (2);
""")
    assert [r[0] for r in conn.execute("SELECT v FROM log ORDER BY v")] == [2, 20]
