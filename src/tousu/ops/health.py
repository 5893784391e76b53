"""Probes for load balancers and orchestrators.

- ``/healthz`` — liveness: the process answers (no database query; a database outage must not
  make every web process look dead and get restarted).
- ``/readyz`` — readiness: can this process serve? The primary database answers (else 503), each
  configured replica's lag, the freshest worker heartbeat per kind of work, and the outbox
  backlog. A stale worker, a lagging replica or a large backlog is reported as ``degraded`` (200):
  the site still serves, and taking web processes out of rotation would not help. With
  ``TOUSU_READY_STRICT=true`` a degraded state answers 503 too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.cache import never_cache

from tousu.common.replicas import replica_aliases, replica_lag
from tousu.notifications.models import DeliveryStatus, Notification
from tousu.ops.metrics import metrics
from tousu.ops.models import WorkerHeartbeat
from tousu.ops.worker import KINDS


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def readiness() -> tuple[int, dict[str, Any]]:
    """(HTTP status, the report) of this process's readiness."""
    now = timezone.now()
    report: dict[str, Any] = {"status": "ok", "checks": {}}
    checks = report["checks"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"status": "ok"}
    except DatabaseError as exc:
        checks["database"] = {"status": "fail", "error": str(exc).splitlines()[0][:200]}
        report["status"] = "fail"
        return 503, report

    degraded = []
    replicas = {}
    for alias in replica_aliases():
        lag = replica_lag(alias, fresh=True)
        fit = lag is not None and lag <= settings.TOUSU_REPLICA_MAX_LAG
        replicas[alias] = {"status": "ok" if fit else "skipped", "lag_seconds": lag}
        if not fit:
            degraded.append(f"replica {alias}")
    if replicas:
        checks["replicas"] = replicas

    stale_after = timedelta(seconds=settings.TOUSU_WORKER_STALE_SECONDS)
    workers: dict[str, Any] = {}
    beats = list(WorkerHeartbeat.objects.values_list("kinds", "beat_at"))
    for kind in KINDS:
        latest = max((beat_at for kinds, beat_at in beats if kind in kinds.split(",")), default=None)
        age = None if latest is None else round((now - latest).total_seconds(), 1)
        fresh = latest is not None and now - latest <= stale_after
        workers[kind] = {"status": "ok" if fresh else "stale", "heartbeat_age_seconds": age}
        if not fresh:
            degraded.append(f"worker {kind}")
    checks["workers"] = workers

    backlog = Notification.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now - timedelta(minutes=5)
    ).count()
    fine = backlog <= settings.TOUSU_READY_OUTBOX_BACKLOG
    checks["outbox"] = {"status": "ok" if fine else "backlog", "overdue_messages": backlog}
    if not fine:
        degraded.append("outbox")

    if degraded:
        report["status"] = "degraded"
        report["degraded"] = degraded
        if settings.TOUSU_READY_STRICT:
            return 503, report
    return 200, report


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    status, report = readiness()
    return JsonResponse(report, status=status, json_dumps_params={"ensure_ascii": False})


urlpatterns: list[URLPattern] = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]
