"""``tousu restore FILE.tar``: put back what ``tousu backup`` saved — the SQLite database, the media
folder and the secret key. Stop ``tousu serve`` and ``tousu worker`` first. Refuses to overwrite a
database that holds data unless ``--force``."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.backends.sqlite3._functions import register as register_functions

from tousu.ops.management.commands.backup import FORMAT, sqlite_path


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise CommandError(f"refusing {member.name!r}: not a plain file inside the backup")
        members.append(member)
    return members


class Command(BaseCommand):
    help = "Restore a backup made by `tousu backup` (stop serve and worker first)."

    def add_arguments(self, parser):
        parser.add_argument("backup", help="the tar file written by tousu backup")
        parser.add_argument("--force", action="store_true", help="overwrite a database that holds data")

    def handle(self, *args, **options):
        database = sqlite_path()
        source = Path(options["backup"])
        if not source.is_file():
            raise CommandError(f"{source} is not a file")
        try:
            tar = tarfile.open(source, "r")  # noqa: SIM115 (closed by the with below)
        except tarfile.TarError as exc:
            raise CommandError(f"{source} is not a tousu backup ({exc})") from None
        with tar, tempfile.TemporaryDirectory(dir=database.parent) as work:
            members = _safe_members(tar)
            names = {member.name for member in members}
            if "manifest.json" not in names or "tousu.sqlite3" not in names:
                raise CommandError(f"{source} is not a tousu backup (no manifest or database)")
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            if manifest.get("format") != FORMAT:
                raise CommandError(
                    f"backup format {manifest.get('format')!r} is not one this version reads ({FORMAT})"
                )
            tar.extractall(work, members=members, filter="data")
            restored = Path(work) / "tousu.sqlite3"
            check = sqlite3.connect(restored)
            register_functions(check)  # expression indexes use Django's SQL functions
            try:
                verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                check.close()
            if verdict != "ok":
                raise CommandError(f"the database in {source} is damaged: {verdict}")
            if self._holds_data(database) and not options["force"]:
                raise CommandError(
                    f"{database} holds data; stop serve and worker and pass --force to overwrite it"
                )
            connection.close()
            # Into the live file through SQLite itself, so its WAL and shared memory stay consistent.
            src = sqlite3.connect(restored)
            dst = sqlite3.connect(database)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            media = Path(settings.MEDIA_ROOT)
            if (Path(work) / "media").is_dir():
                shutil.rmtree(media, ignore_errors=True)
                shutil.copytree(Path(work) / "media", media)
            if (Path(work) / "secret_key").is_file():
                key = Path(settings.DATA_DIR) / "secret_key"
                shutil.copyfile(Path(work) / "secret_key", key)
                key.chmod(0o600)
        self.stdout.write(
            f"restored={database} tables={manifest['tables']} media_files={manifest['media_files']} "
            f"secret_key={'yes' if manifest['secret_key'] else 'no'}"
        )

    @staticmethod
    def _holds_data(database: Path) -> bool:
        if not database.exists() or database.stat().st_size == 0:
            return False
        probe = sqlite3.connect(database)
        try:
            for table in ("complaints_complaint", "accounts_user"):  # cases, or people who work here
                known = probe.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
                ).fetchone()
                if known and probe.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                    return True
            return False
        finally:
            probe.close()
