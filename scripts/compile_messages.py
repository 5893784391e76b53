"""Compile every ``django.po`` under ``src/tousu/locale`` into the ``django.mo`` beside it.

Pure Python (polib), so a machine without GNU gettext's ``msgfmt`` can build the catalogues:

    .venv/bin/python scripts/compile_messages.py

Fuzzy and untranslated entries are left out of the ``.mo``, as ``msgfmt`` does. Exits non-zero
when a catalogue cannot be read or no catalogue is found.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "src" / "tousu" / "locale"


def compile_catalogue(po_path: Path) -> Path:
    """Write ``django.mo`` next to ``po_path`` and return its path."""
    catalogue = polib.pofile(str(po_path), encoding="utf-8")
    mo_path = po_path.with_suffix(".mo")
    catalogue.save_as_mofile(str(mo_path))
    return mo_path


def main() -> int:
    po_paths = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))
    if not po_paths:
        sys.stderr.write(f"compile_messages: no django.po under {LOCALE_DIR}\n")
        return 1
    root = LOCALE_DIR.parent.parent.parent
    for po_path in po_paths:
        try:
            mo_path = compile_catalogue(po_path)
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"compile_messages: cannot compile {po_path.relative_to(root)}: {exc}\n")
            return 1
        sys.stdout.write(f"wrote {mo_path.relative_to(root)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
