"""How many commits per second this PostgreSQL server and disk allow, with and without one shared
counter row (what the ticket counter is to acceptances): N client processes each loop on
``[UPDATE counter SET last = last + 1;] INSERT one row; COMMIT``. No Tousu code involved.

    .venv/bin/python bench/commit_probe.py --pg-url postgres://postgres@127.0.0.1:5432/tousu_bench

Creates and drops two tables named ``zz_probe_*`` in that database (which must exist). The last
line is ``commits_per_s=<one client, no shared row>``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time


def _client(url: str, count: int, counter: bool) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        for i in range(count):
            if counter:
                conn.execute("UPDATE zz_probe_counter SET last = last + 1 WHERE id = 1")
            conn.execute("INSERT INTO zz_probe_rows VALUES (%s)", [i])
            conn.commit()


def main(argv: list[str] | None = None) -> int:
    import psycopg

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/tousu_bench")
    parser.add_argument("--n", type=int, default=800, help="commits per measurement (default 800)")
    parser.add_argument("--clients", default="1,4,8", help="client counts to try (default 1,4,8)")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    with psycopg.connect(args.pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS zz_probe_rows (x int)")
        conn.execute("CREATE TABLE IF NOT EXISTS zz_probe_counter (id int PRIMARY KEY, last int)")
        conn.execute("INSERT INTO zz_probe_counter VALUES (1, 0) ON CONFLICT DO NOTHING")
        context = multiprocessing.get_context("fork")
        baseline = 0.0
        try:
            for counter in (False, True):
                for n_clients in clients:
                    each = max(1, args.n // n_clients)
                    processes = [
                        context.Process(target=_client, args=(args.pg_url, each, counter))
                        for _ in range(n_clients)
                    ]
                    started = time.perf_counter()
                    for process in processes:
                        process.start()
                    for process in processes:
                        process.join()
                    rate = each * n_clients / (time.perf_counter() - started)
                    if not counter and n_clients == clients[0]:
                        baseline = rate
                    print(
                        f"shared_counter={'yes' if counter else 'no'} clients={n_clients} commits_per_s={rate:.0f}"
                    )
        finally:
            conn.execute("DROP TABLE zz_probe_rows")
            conn.execute("DROP TABLE zz_probe_counter")
    print(f"commits_per_s={baseline:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
