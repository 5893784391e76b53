"""Run by tests/test_replicas.py in a process of its own, with TOUSU_DATABASE_URL on a scratch
primary and TOUSU_DATABASE_REPLICA_URLS on its streaming standby (already migrated). Prints one
JSON object of what it observed."""

from __future__ import annotations

import json
import time

import django

django.setup()

from django.db import connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from tousu.accounts.models import Region, User  # noqa: E402
from tousu.common.replicas import healthy_replica, replica_lag, replica_reads  # noqa: E402

seen: dict[str, object] = {}


def wait(predicate, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


Region.objects.create(code="probe1", name="探针一")
seen["caught_up"] = wait(lambda: Region.objects.using("replica1").filter(code="probe1").exists())

with replica_reads() as alias, CaptureQueriesContext(connections["replica1"]) as on_replica:
    seen["alias"] = alias
    seen["count_via_router"] = Region.objects.filter(code="probe1").count()
    with transaction.atomic(), CaptureQueriesContext(connections["replica1"]) as in_transaction:
        Region.objects.filter(code="probe1").count()
    seen["queries_on_replica"] = len(on_replica.captured_queries)
    seen["transaction_reads_on_replica"] = len(in_transaction.captured_queries)
with connections["replica1"].cursor() as cursor:
    cursor.execute("SELECT pg_is_in_recovery()")
    seen["replica_in_recovery"] = cursor.fetchone()[0]

# Read-your-writes and the path rule, through the middleware.
user = User.objects.create_superuser("probe", "probe@example.com", "probe-password-123")
wait(lambda: User.objects.using("replica1").filter(username="probe").exists())
client = Client()
client.force_login(user)
time.sleep(1.5)  # the sign-in itself was a write by this user: let it age out of the window
seen["reports_read_from"] = client.get("/reports/")["X-Tousu-Read-From"]
client.post("/i18n/setlang/", {"language": "en", "next": "/"})
seen["after_a_write_read_from"] = client.get("/reports/")["X-Tousu-Read-From"]
seen["other_pages_header"] = client.get("/healthz").get("X-Tousu-Read-From")

# A replica that stops replaying falls behind and is skipped.
with connections["replica1"].cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_pause()")
Region.objects.create(code="probe2", name="探针二")
time.sleep(2.5)
seen["lag_when_paused"] = (replica_lag("replica1", fresh=True) or 0) > 1
seen["healthy_when_paused"] = healthy_replica()
with replica_reads() as alias:
    seen["alias_when_paused"] = alias
    seen["probe2_seen_when_paused"] = Region.objects.filter(code="probe2").exists()
with connections["replica1"].cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_resume()")
seen["caught_up_again"] = wait(lambda: Region.objects.using("replica1").filter(code="probe2").exists())
seen["lag_after_resume"] = replica_lag("replica1", fresh=True)
print(json.dumps(seen))  # noqa: T201 (the test reads it)
