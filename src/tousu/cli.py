"""The ``tousu`` command: ``tousu demo``, ``tousu serve``, ``tousu worker``, ``tousu seed`` and
every Django management command (``tousu migrate``, ``tousu createsuperuser``, …)."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tousu.settings")
    args = list(sys.argv if argv is None else argv)
    args[0] = "tousu"
    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        print(f"tousu: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
