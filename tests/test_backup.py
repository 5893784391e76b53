"""Backups: ``tousu backup``/``tousu restore`` for the embedded SQLite database, and the README's
PostgreSQL procedure (base backup + WAL archive → point-in-time recovery) rehearsed on a scratch
cluster."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from django.db import connection

from tests import pgcluster

ROOT = Path(__file__).resolve().parent.parent


def _tousu(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env.update({"TOUSU_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "tousu.settings"})
    env["PYTHONPATH"] = str(ROOT / "src")
    result = subprocess.run(
        [sys.executable, "-m", "django", *args], env=env, capture_output=True, text=True, timeout=600
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


SHELL = (
    "from tousu.accounts.models import Region; print(sorted(Region.objects.values_list('code', flat=True)))"
)


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the SQLite backup runs with the SQLite suite")
def test_backup_and_restore_bring_back_the_database_the_evidence_and_the_key(tmp_path):
    assert connection.vendor == "sqlite"
    live = tmp_path / "live"
    _tousu(live, "migrate", "-v", "0")
    _tousu(
        live,
        "shell",
        "-c",
        "from tousu.accounts.models import Region; Region.objects.create(code='gz', name='广州')",
    )
    (live / "media" / "evidence" / "7").mkdir(parents=True)
    (live / "media" / "evidence" / "7" / "bill.png").write_bytes(b"\x89PNG evidence")
    out = _tousu(live, "backup", "--output", str(tmp_path / "b.tar"))
    assert out.stdout.strip().startswith(f"backup={tmp_path / 'b.tar'} tables=")
    assert out.stdout.strip().endswith("media_files=1 secret_key=yes")
    with tarfile.open(tmp_path / "b.tar") as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "tousu.sqlite3", "media/evidence/7/bill.png", "secret_key"} <= names
    assert not (tmp_path / "b.tar.partial").exists()

    again = _tousu(live, "backup", "--output", str(tmp_path / "b.tar"), check=False)
    assert again.returncode != 0
    assert "exists; choose a new file name" in again.stderr

    # A new machine: an empty data folder gets everything back.
    fresh = tmp_path / "fresh"
    _tousu(fresh, "restore", str(tmp_path / "b.tar"))
    assert _tousu(fresh, "shell", "--no-imports", "-c", SHELL).stdout.strip() == "['gz']"
    assert (fresh / "media" / "evidence" / "7" / "bill.png").read_bytes() == b"\x89PNG evidence"
    assert (fresh / "secret_key").read_text() == (live / "secret_key").read_text()

    # A database with data (people, cases) is not overwritten without --force.
    _tousu(
        live,
        "shell",
        "-c",
        "from tousu.accounts.models import Region, User; Region.objects.create(code='sz', name='深圳'); User.objects.create(username='liuyang')",
    )
    refused = _tousu(live, "restore", str(tmp_path / "b.tar"), check=False)
    assert refused.returncode != 0
    assert "holds data; stop serve and worker and pass --force to overwrite it" in refused.stderr
    assert _tousu(live, "shell", "--no-imports", "-c", SHELL).stdout.strip() == "['gz', 'sz']"
    forced = _tousu(live, "restore", str(tmp_path / "b.tar"), "--force")
    assert forced.stdout.strip().endswith("media_files=1 secret_key=yes")
    assert _tousu(live, "shell", "--no-imports", "-c", SHELL).stdout.strip() == "['gz']"


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the SQLite backup runs with the SQLite suite")
def test_restore_refuses_what_is_not_a_backup(tmp_path):
    data = tmp_path / "data"
    bogus = tmp_path / "bogus.tar"
    with tarfile.open(bogus, "w") as tar:
        (tmp_path / "x").write_text("x")
        tar.add(tmp_path / "x", arcname="../../etc/evil")
    result = _tousu(data, "restore", str(bogus), check=False)
    assert result.returncode != 0
    assert "refusing '../../etc/evil': not a plain file inside the backup" in result.stderr
    if (data / "tousu.sqlite3").exists():  # opened by start-up at most: nothing was restored into it
        probe = sqlite3.connect(data / "tousu.sqlite3")
        try:
            assert probe.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0
        finally:
            probe.close()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="runs with the PostgreSQL suite")
@pytest.mark.skipif(pgcluster.available() is not None, reason=str(pgcluster.available()))
def test_point_in_time_recovery_from_the_base_backup_and_the_wal_archive():
    """The README's procedure: archive WAL, take a base backup, and recover to a moment between
    two commits — the first is there, the second is not."""
    with pgcluster.Scratch() as scratch:
        primary = scratch.primary()
        with primary.connect("tousu") as conn:
            conn.execute("CREATE TABLE ledger (entry text)")
        base = scratch.base_backup(primary, "restored", standby=False)
        with primary.connect("tousu") as conn:
            conn.execute("INSERT INTO ledger VALUES ('kept')")
            time.sleep(1.2)
            target = conn.execute("SELECT now()").fetchone()[0]
            time.sleep(1.2)
            conn.execute("INSERT INTO ledger VALUES ('after the target')")
            conn.execute("SELECT pg_switch_wal()")
        archive = scratch.root / "wal"
        deadline = time.monotonic() + 30
        with primary.connect() as conn:
            last = conn.execute("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver").fetchone()
            while time.monotonic() < deadline:
                last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
                current = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
                if last[0] and last[0] >= current[:-1] + "0" and len(list(archive.iterdir())) >= 2:
                    break
                time.sleep(0.3)
        primary.stop()
        with open(base.dir / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"restore_command = 'cp {archive}/%f %p'\n"
                f"recovery_target_time = '{target.isoformat()}'\n"
                "recovery_target_action = 'promote'\n"
            )
        (base.dir / "recovery.signal").touch()
        if os.geteuid() == 0:
            import shutil

            shutil.chown(base.dir / "recovery.signal", "postgres", "postgres")
        scratch.launch(base)
        with base.connect("tousu") as conn:
            deadline = time.monotonic() + 30
            while conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] and time.monotonic() < deadline:
                time.sleep(0.2)
            rows = [row[0] for row in conn.execute("SELECT entry FROM ledger ORDER BY entry")]
    assert rows == ["kept"]
