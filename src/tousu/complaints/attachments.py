"""What evidence files are accepted (by extension, and the content must agree with it), and how
they are written to storage: completely or not at all.

A file is written before the database transaction that records it commits. ``store`` removes
what a failed write left behind (a disk full half-way through) and raises ``StorageUnavailable``;
``kept_if_committed`` removes the files written inside a block that fails, so a case registered
with its evidence in one transaction leaves neither a case nor a file when the disk is full, and
the customer's retry registers it once.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Final

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _

from tousu.common.errors import TousuError

log = logging.getLogger("tousu.attachments")

# extension → (content type, accepted leading bytes; empty = text, checked as UTF-8)
ALLOWED: Final[dict[str, tuple[str, tuple[bytes, ...]]]] = {
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", (b"RIFF",)),
    "pdf": ("application/pdf", (b"%PDF-",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    "mp3": ("audio/mpeg", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
    "wav": ("audio/wav", (b"RIFF",)),
    "amr": ("audio/amr", (b"#!AMR",)),
    "m4a": ("audio/mp4", (b"\x00\x00\x00",)),
    "mp4": ("video/mp4", (b"\x00\x00\x00",)),
    "txt": ("text/plain", ()),
    "eml": ("message/rfc822", ()),
}


def sniff(extension: str, head: bytes) -> str | None:
    """The content type for a file with this extension and these first bytes, or None if refused."""
    entry = ALLOWED.get(extension.lower())
    if entry is None:
        return None
    content_type, magics = entry
    if not magics:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
                return None
        return None if b"\x00" in head else content_type
    if extension.lower() in ("mp4", "m4a"):
        return content_type if head[4:8] == b"ftyp" else None
    return content_type if any(head.startswith(m) for m in magics) else None


class StorageUnavailable(TousuError):
    """The file could not be written (the disk is full, the storage is down): nothing was kept."""

    code = "storage_unavailable"
    http_status = 503


_written: ContextVar[list[tuple[Storage, str]] | None] = ContextVar("tousu_attachments_written", default=None)


def store(file: FieldFile, name: str, data: bytes) -> None:
    """Write ``data`` as ``file`` (its field's ``upload_to`` decides the path). A write that fails
    leaves no file, partial or whole, and raises ``StorageUnavailable``."""
    storage = file.storage
    target = storage.get_available_name(
        file.field.generate_filename(file.instance, name), max_length=file.field.max_length
    )
    try:
        saved = storage.save(target, ContentFile(data), max_length=file.field.max_length)
    except OSError as exc:
        with contextlib.suppress(OSError):
            if storage.exists(target):
                storage.delete(target)  # what was written before the disk filled up
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        log.error("evidence file %s not written: %s", target, exc)
        raise StorageUnavailable(
            _("The file storage is full; nothing was saved. Please try again later.")
            if full
            else _("The file storage cannot be written to; nothing was saved. Please try again later.")
        ) from exc
    file.name = saved
    file._committed = True  # type: ignore[attr-defined]  # what FieldFile.save sets
    written = _written.get()
    if written is not None:
        written.append((storage, saved))


@contextlib.contextmanager
def kept_if_committed() -> Iterator[None]:
    """Files ``store``d inside the block are removed again if the block raises (wrap the block's
    ``transaction.atomic()``: a rolled-back case keeps no evidence files)."""
    written: list[tuple[Storage, str]] = []
    token = _written.set(written)
    try:
        yield
    except BaseException:
        for storage, name in written:
            with contextlib.suppress(OSError):
                storage.delete(name)
        raise
    finally:
        _written.reset(token)
