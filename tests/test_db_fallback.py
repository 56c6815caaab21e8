"""tierd on a Python whose sqlite3 cannot load extensions and without pysqlite3 (a Mac's
python.org or pyenv Python): it runs on the sqlean-py drop-in, and the suite's database tests
pass on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

FORCED = REPO / "tests" / "sqlite_fallback"
DATABASE_TESTS = (
    "tests/test_db_migrations.py",
    "tests/test_costs_ledger.py",
    "tests/test_costs_budgets.py",
    "tests/test_bench_compare.py",
    "tests/test_jobs_scheduler.py",
    "tests/test_index_build.py",
    "tests/test_jobs_index.py",
)


def forced_env() -> dict[str, str]:
    given = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(FORCED), given) if p))


def in_forced_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(forced_env(), PYTHONPATH=f"{FORCED}{os.pathsep}{REPO / 'src'}"),
                          timeout=60)


def test_the_forced_python_really_lacks_both():
    probe = in_forced_python(
        "import sqlite3, importlib.util\n"
        "c = sqlite3.connect(':memory:')\n"
        "print(hasattr(c, 'enable_load_extension'))\n"
        "try:\n    import pysqlite3\n    print('pysqlite3')\nexcept ImportError:\n"
        "    print('absent')\n")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["False", "absent"]


def test_tierd_picks_sqlean_and_loads_sqlite_vec_on_it():
    probe = in_forced_python(
        "import json\n"
        "from tierd.db import connect, driver_info\n"
        "conn = connect(':memory:', vec=True)\n"
        "info = driver_info()\n"
        "print(json.dumps({'module': info.module, 'version': info.sqlite_version,\n"
        "                  'vec': conn.execute('select vec_version()').fetchone()[0]}))\n")
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["module"] == "sqlean" and found["vec"].startswith("v0.1")


@pytest.mark.slow
def test_the_database_tests_pass_on_the_fallback():
    # The same process asserts the driver and runs the tests, so they cannot run on another.
    code = ("import sys, pytest, tierd.db\n"
            "assert tierd.db.sqlite3.__name__ == 'sqlean', tierd.db.sqlite3\n"
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *{list(DATABASE_TESTS)!r}]))")
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO, capture_output=True, text=True, env=forced_env(), timeout=900)
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    assert " passed" in run.stdout and " failed" not in run.stdout, tail


def test_doctor_names_the_fallback_driver(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    run = subprocess.run([sys.executable, "-m", "tierd", "--config", str(config), "doctor",
                          "--json"], capture_output=True, text=True, timeout=120,
                         env=dict(forced_env(), PYTHONPATH=f"{FORCED}{os.pathsep}{REPO / 'src'}"))
    assert run.returncode == 0, run.stdout + run.stderr
    checks = {c["name"]: c for c in json.loads(run.stdout)["checks"]}
    assert checks["sqlite driver"]["status"] == "ok"
    assert checks["sqlite driver"]["detail"].startswith("sqlean, SQLite 3.")
    assert "cannot load extensions" in checks["sqlite driver"]["detail"]
    assert checks["sqlite-vec"]["detail"].endswith("loads on sqlean")
