"""Benchmark: import regulator referrals from a CSV file, as the staff page does.

Each timed run imports a fresh file of ``--rows`` referrals (UTF-8 with BOM, as the template) with
``regulator_import``: one transaction per row (register + accept on the ``regulator`` channel, with
the default SLA policies, so the regulator clocks start), then imports the same file again, which
must report every row as already imported. Every invocation starts from an empty database: a
fresh SQLite file, or a dropped and re-created PostgreSQL database. From the repository root::

    .venv/bin/python bench/regulator_import.py --db sqlite --rows 500 --runs 3
    .venv/bin/python bench/regulator_import.py --db postgres --rows 500 --runs 3

The last line is always ``rows_per_s=<median of the first imports>``.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import recreate_postgres  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=500, help="referrals per file (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/tousu_bench")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.runs < 1:
        parser.error("--rows and --runs must be at least 1")
    return args


def configure(args: argparse.Namespace, workdir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tousu.settings"
    os.environ["TOUSU_DATA_DIR"] = str(workdir / "data")
    os.environ.setdefault("TOUSU_LOG_LEVEL", "WARNING")
    os.environ.pop("TOUSU_DEBUG", None)
    os.environ["TOUSU_REGULATOR_CSV_MAX_ROWS"] = str(max(args.rows, 1000))
    os.environ["TOUSU_REGULATOR_CSV_MAX_KB"] = str(max(args.rows, 2048))
    if args.db == "sqlite":
        os.environ["TOUSU_DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        recreate_postgres(args.pg_url)
        os.environ["TOUSU_DATABASE_URL"] = args.pg_url

    import django

    django.setup()


def referral_file(run: int, rows: int, categories: list[str]) -> bytes:
    from tousu.channels.regulator import COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.chinese for c in COLUMNS])
    for i in range(rows):
        values = {
            "referral_no": f"GXB-{run:02d}-{i:06d}",
            "received_at": f"2026-03-{1 + i % 28:02d} {8 + i % 10:02d}:{i % 60:02d}",
            "phone": f"139{(run * 1_000_003 + i * 7_919) % 100_000_000:08d}",
            "customer_name": "张三李四王五赵六"[i % 8] + "先生",
            "service_number": "",
            "category": categories[i % len(categories)],
            "business_type": ["mobile", "broadband", "宽带", "Mobile data"][i % 4],
            "level": ["", "very_dissatisfied", "重大投诉"][i % 3],
            "description": f"工信部转办：用户反映第{i}号问题长期未解决，多次投诉无果。",
            "demand": "尽快处理并书面答复",
            "region": "",
        }
        writer.writerow([values[c.key] for c in COLUMNS])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tousu-bench-") as tmp:
        configure(args, Path(tmp))

        from django.core.management import call_command
        from django.db import connection

        from tousu.accounts.models import User
        from tousu.channels.regulator import regulator_import
        from tousu.complaints.models import Category, Complaint
        from tousu.ops.seed import seed_reference
        from tousu.sla.defaults import sla_bootstrap
        from tousu.sla.models import SlaClock

        call_command("migrate", verbosity=0, interactive=False)
        seed_reference()
        sla_bootstrap()
        actor = User.objects.get(username="supervisor")
        categories = list(
            Category.objects.filter(is_active=True, children__isnull=True, parent__isnull=False)
            .order_by("pk")
            .values_list("code", flat=True)
            .distinct()
        )
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"db={connection.vendor} rows={args.rows} runs={args.runs} loadavg={load}")
        regulator_import(actor=actor, data=referral_file(0, 20, categories))  # warm-up

        rates = []
        for run in range(1, args.runs + 1):
            data = referral_file(run, args.rows, categories)
            started = time.perf_counter()
            report = regulator_import(actor=actor, data=data)
            elapsed = time.perf_counter() - started
            if report.imported != args.rows:
                refused = [r.reason for r in report.rows if r.outcome == "refused"][:3]
                raise SystemExit(f"run {run}: {report.imported} of {args.rows} imported: {refused}")
            started_again = time.perf_counter()
            again = regulator_import(actor=actor, data=data)
            elapsed_again = time.perf_counter() - started_again
            if again.duplicates != args.rows:
                raise SystemExit(f"run {run}: the second import found {again.duplicates} duplicates")
            rates.append(args.rows / elapsed)
            print(
                f"run={run} rows_per_s={args.rows / elapsed:.1f} seconds={elapsed:.2f} "
                f"reimport_rows_per_s={args.rows / elapsed_again:.0f}"
            )
        total = Complaint.objects.filter(channel="regulator").count()
        clocks = SlaClock.objects.filter(kind="regulator_answer", complaint__channel="regulator").count()
        print(f"regulator_cases={total} regulator_answer_clocks={clocks}")
        print(f"rows_per_s={statistics.median(rates):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
