"""What evidence files are accepted: by extension, and the content must agree with it."""

from __future__ import annotations

from typing import Final

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
