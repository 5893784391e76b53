"""Prometheus metrics at ``/metrics`` (prometheus_client, text exposition format 0.0.4).

Two sources:

- **Requests** — ``tousu_http_requests_total`` and ``tousu_http_request_duration_seconds`` by view
  (the URL pattern's name, never the raw path: ticket numbers would make unbounded label values),
  method and status class, counted in each web process by :class:`RequestMetricsMiddleware`. Under
  ``tousu serve`` (several granian processes) the processes share ``PROMETHEUS_MULTIPROC_DIR``, set
  by the command, and a scrape sums them.
- **The work** — read from the database at scrape time, so every web process answers the same and
  nothing is lost when a process restarts: cases registered by channel, clocks running, due within
  the hour and breached by kind, the outbox backlog and failed deliveries by transport, each worker
  process's last batch duration per job and heartbeat age, and each replica's lag.

The page is protected: ``Authorization: Bearer <TOUSU_METRICS_TOKEN>`` (compared in constant time),
or a signed-in superuser. Without a token configured only the superuser can read it.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from tousu.common.replicas import replica_aliases, replica_lag
from tousu.complaints.models import Complaint
from tousu.notifications.models import DeliveryStatus, Notification
from tousu.ops.models import WorkerHeartbeat
from tousu.sla.models import ClockState, SlaBreach, SlaClock

REQUESTS = Counter(
    "tousu_http_requests",
    "HTTP requests answered, by view, method and status class",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "tousu_http_request_duration_seconds",
    "Time to answer HTTP requests, by view",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.view_name or "unnamed"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = self.get_response(request)
        view = _view_name(request)
        method = (
            request.method if request.method in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} else "OTHER"
        )
        LATENCY.labels(view, method).observe(time.perf_counter() - began)
        REQUESTS.labels(view, method, f"{response.status_code // 100}xx").inc()
        return response


class WorkCollector:
    """The figures of the work itself, read from the database at each scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        now = timezone.now()
        try:
            yield from self._collect(now)
        except DatabaseError:
            up = GaugeMetricFamily("tousu_database_up", "Whether the primary database answered the scrape")
            up.add_metric([], 0)
            yield up
            return

    def _collect(self, now):
        registered = CounterMetricFamily(
            "tousu_cases_registered", "Cases registered, by channel", labels=["channel"]
        )
        for row in Complaint.objects.order_by().values("channel").annotate(n=Count("id")):
            registered.add_metric([row["channel"]], row["n"])
        yield registered

        running = GaugeMetricFamily("tousu_clocks_running", "SLA clocks running, by kind", labels=["kind"])
        due = GaugeMetricFamily(
            "tousu_clocks_due_within_hour", "Running clocks due within the hour, by kind", labels=["kind"]
        )
        overdue = GaugeMetricFamily(
            "tousu_clocks_overdue", "Running clocks past their deadline, by kind", labels=["kind"]
        )
        clocks = SlaClock.objects.filter(state=ClockState.RUNNING).order_by()
        for row in clocks.values("kind").annotate(n=Count("id")):
            running.add_metric([row["kind"]], row["n"])
        for row in clocks.filter(due_at__lte=now + timedelta(hours=1)).values("kind").annotate(n=Count("id")):
            due.add_metric([row["kind"]], row["n"])
        for row in clocks.filter(due_at__lt=now).values("kind").annotate(n=Count("id")):
            overdue.add_metric([row["kind"]], row["n"])
        yield running
        yield due
        yield overdue

        breached = CounterMetricFamily(
            "tousu_clock_breaches", "Deadline breaches recorded, by clock kind", labels=["kind"]
        )
        for row in SlaBreach.objects.order_by().values("kind").annotate(n=Count("id")):
            breached.add_metric([row["kind"]], row["n"])
        yield breached

        backlog = GaugeMetricFamily(
            "tousu_outbox_backlog",
            "Notifications waiting to be delivered, by transport",
            labels=["transport"],
        )
        oldest = GaugeMetricFamily(
            "tousu_outbox_oldest_seconds",
            "Age of the oldest notification waiting, by transport",
            labels=["transport"],
        )
        failed = CounterMetricFamily(
            "tousu_deliveries_failed",
            "Notifications that failed for good, by transport",
            labels=["transport"],
        )
        pending = Notification.objects.filter(status=DeliveryStatus.PENDING).order_by()
        for row in pending.values("transport").annotate(n=Count("id")):
            backlog.add_metric([row["transport"]], row["n"])
        for transport in pending.values_list("transport", flat=True).distinct():
            first = (
                pending.filter(transport=transport)
                .order_by("next_attempt_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if first is not None:
                oldest.add_metric([transport], max(0.0, (now - first).total_seconds()))
        for row in (
            Notification.objects.filter(status=DeliveryStatus.FAILED)
            .order_by()
            .values("transport")
            .annotate(n=Count("id"))
        ):
            failed.add_metric([row["transport"]], row["n"])
        yield backlog
        yield oldest
        yield failed

        batch = GaugeMetricFamily(
            "tousu_worker_batch_seconds",
            "Duration of each worker process's last run of each job",
            labels=["worker", "job"],
        )
        age = GaugeMetricFamily(
            "tousu_worker_heartbeat_age_seconds",
            "Seconds since each worker process's last loop",
            labels=["worker", "kinds"],
        )
        for beat in WorkerHeartbeat.objects.all():
            age.add_metric([beat.name, beat.kinds], max(0.0, (now - beat.beat_at).total_seconds()))
            for job, seconds in sorted((beat.last_seconds or {}).items()):
                batch.add_metric([beat.name, job], float(seconds))
        yield batch
        yield age

        lag = GaugeMetricFamily(
            "tousu_replica_lag_seconds",
            "Replay lag of each read replica (-1: not answering)",
            labels=["replica"],
        )
        for alias in replica_aliases():
            value = replica_lag(alias)
            lag.add_metric([alias], -1.0 if value is None else value)
        yield lag

        up = GaugeMetricFamily("tousu_database_up", "Whether the primary database answered the scrape")
        up.add_metric([], 1)
        yield up


def _allowed(request: HttpRequest) -> bool:
    token = settings.TOUSU_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if (
        token
        and header.startswith("Bearer ")
        and hmac.compare_digest(header[7:].strip().encode(), token.encode())
    ):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_superuser)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        response = HttpResponse(
            "metrics need Authorization: Bearer <TOUSU_METRICS_TOKEN>\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="tousu-metrics"'
        return response
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY  # this process's request metrics (development, tests)
    output = generate_latest(registry) + generate_latest(_work_registry())
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


def _work_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkCollector())
    return registry
