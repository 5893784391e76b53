"""Reads on a real streaming replica: a scratch primary and a hot standby made with
pg_basebackup, on ports of their own (tests/pgcluster.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests import pgcluster

pytestmark = [
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="runs with the PostgreSQL suite"),
    pytest.mark.skipif(pgcluster.available() is not None, reason=str(pgcluster.available())),
]
ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, primary: str, replicas: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tousu.settings",
            "TOUSU_DATA_DIR": str(tmp_path / "data"),
            "TOUSU_DATABASE_URL": primary,
            "TOUSU_DATABASE_REPLICA_URLS": replicas,
            "TOUSU_REPLICA_MAX_LAG": "1",
            "TOUSU_REPLICA_CHECK_SECONDS": "0",
            "TOUSU_LANGUAGE": "en",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        }
    )
    return env


def test_reads_go_to_a_fresh_replica_and_never_to_a_lagging_one(tmp_path):
    assert connection.vendor == "postgresql"
    with pgcluster.Scratch() as scratch:
        primary = scratch.primary()
        standby = scratch.standby(primary)
        env = _env(tmp_path, primary.url, standby.url.replace("/tousu", "/tousu"))
        tousu = [sys.executable, "-m", "django"]
        migrated = subprocess.run(
            [*tousu, "migrate", "-v", "0"], env=env, capture_output=True, text=True, timeout=600
        )
        assert migrated.returncode == 0, migrated.stderr
        probe = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "replica_probe.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert probe.returncode == 0, probe.stderr
        seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen == {
        "caught_up": True,
        "alias": "replica1",
        "count_via_router": 1,
        "queries_on_replica": 1,  # the count; the read inside the transaction went to the primary
        "transaction_reads_on_replica": 0,
        "replica_in_recovery": True,
        "reports_read_from": "replica",
        "after_a_write_read_from": "primary",  # read-your-writes
        "other_pages_header": None,
        "lag_when_paused": True,
        "healthy_when_paused": None,
        "alias_when_paused": "default",
        "probe2_seen_when_paused": True,  # read from the primary, so the new row is there
        "caught_up_again": True,
        "lag_after_resume": 0.0,
    }


def test_the_settings_refuse_replicas_of_sqlite(tmp_path):
    env = _env(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", "postgres://postgres@127.0.0.1:5432/x")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "TOUSU_DATABASE_REPLICA_URLS needs TOUSU_DATABASE_URL to be PostgreSQL" in result.stderr
