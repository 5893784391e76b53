"""``tousu backup --output FILE.tar``: the embedded SQLite database (copied with SQLite's online
backup API, so the server and the worker may keep running), the media folder (evidence files) and
the secret key, in one tar file with a manifest. PostgreSQL is backed up with its own tools (base
backup + WAL archiving; README, "Backups")."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

FORMAT = 1


def sqlite_path() -> Path:
    if connection.vendor != "sqlite":
        raise CommandError(
            "tousu backup copies the embedded SQLite database; this site runs on PostgreSQL — back it up "
            "with pg_basebackup and WAL archiving (README, Backups)"
        )
    return Path(settings.DATABASES["default"]["NAME"])


class Command(BaseCommand):
    help = "Back up the embedded SQLite database, the media folder and the secret key into one tar file."

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="the tar file to write (must not exist)")

    def handle(self, *args, **options):
        database = sqlite_path()
        output = Path(options["output"])
        if output.exists():
            raise CommandError(f"{output} exists; choose a new file name")
        if not output.parent.is_dir():
            raise CommandError(f"{output.parent} is not a folder")
        media = Path(settings.MEDIA_ROOT)
        secret = Path(settings.DATA_DIR) / "secret_key"
        with tempfile.TemporaryDirectory(dir=output.parent) as work:
            copy = Path(work) / "tousu.sqlite3"
            source = sqlite3.connect(database)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # a consistent copy while others write
                target.execute("PRAGMA journal_mode=DELETE")
                tables = target.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[
                    0
                ]
            finally:
                target.close()
                source.close()
            files = sorted(p for p in media.rglob("*") if p.is_file()) if media.is_dir() else []
            manifest = {
                "format": FORMAT,
                "created_at": timezone.now().isoformat(),
                "database_bytes": copy.stat().st_size,
                "tables": tables,
                "media_files": len(files),
                "secret_key": secret.is_file(),
            }
            partial = output.with_name(output.name + ".partial")
            try:
                with tarfile.open(partial, "w") as tar:
                    info = tarfile.TarInfo("manifest.json")
                    data = json.dumps(manifest, indent=2).encode()
                    info.size = len(data)
                    info.mtime = int(timezone.now().timestamp())
                    tar.addfile(info, fileobj=io.BytesIO(data))
                    tar.add(copy, arcname="tousu.sqlite3")
                    for path in files:
                        tar.add(path, arcname=f"media/{path.relative_to(media).as_posix()}")
                    if secret.is_file():
                        tar.add(secret, arcname="secret_key")
                partial.rename(output)  # a backup is there whole or not at all
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        self.stdout.write(
            f"backup={output} tables={tables} media_files={len(files)} secret_key={'yes' if secret.is_file() else 'no'}"
        )
