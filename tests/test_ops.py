"""Operations: work split across worker processes, heartbeats, probes, metrics, request ids, logs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from tousu.common.db import exclusive
from tousu.common.logs import JsonFormatter, RequestIdFilter, request_id_bound
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.states import Status
from tousu.notifications.models import Notification
from tousu.notifications.services import outbox_dispatch
from tousu.ops.models import WorkerHeartbeat
from tousu.ops.worker import KINDS, Worker, parse_kinds
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import ClockState, SlaClock


def test_only_picks_the_jobs_of_the_named_kinds():
    assert KINDS == (
        "sla",
        "notifications",
        "imap",
        "triage",
        "analytics",
        "quality",
        "housekeeping",
        "privacy",
    )
    assert parse_kinds("") == KINDS
    assert parse_kinds("sla, imap,sla") == ("sla", "imap")
    worker = Worker(interval=1, kinds=("sla", "imap"))
    assert [name for name, _job in worker.jobs] == ["sla_warn", "sla_breach", "email_in"]
    with pytest.raises(
        ValueError,
        match="unknown kind of work: mail; choose from sla, notifications, imap, triage, analytics",
    ):
        parse_kinds("sla,mail")


def test_the_command_refuses_an_unknown_kind():
    with pytest.raises(CommandError, match="--only: unknown kind of work: nope"):
        call_command("worker", "--once", "--only", "nope")


@pytest.mark.django_db
def test_the_loop_beats_at_most_every_few_seconds_and_a_clean_stop_forgets_the_row():
    worker = Worker(interval=1, kinds=("sla",))
    assert worker.run_once() == 0
    assert worker.run_once() == 0  # within HEARTBEAT_SECONDS of the first: no second write
    beat = WorkerHeartbeat.objects.get()
    assert (beat.name, beat.kinds, beat.batches, beat.handled) == (worker.name, "sla", 1, 0)
    assert sorted(beat.last_seconds) == ["sla_breach", "sla_warn"]
    worker._next_beat = 0.0  # the interval has passed
    worker.run_once()
    assert WorkerHeartbeat.objects.get().batches == 3
    worker.forget()
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_a_starting_worker_clears_rows_of_processes_gone_for_a_day():
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="old:1", kinds="sla", started_at=now, beat_at=now - timedelta(days=2))
    WorkerHeartbeat.objects.create(
        name="recent:2", kinds="sla", started_at=now, beat_at=now - timedelta(hours=2)
    )
    worker = Worker(interval=1, kinds=("sla",))
    worker.run_once()
    assert sorted(WorkerHeartbeat.objects.values_list("name", flat=True)) == sorted([worker.name, "recent:2"])


def test_healthz_answers_without_the_database(client, settings, monkeypatch):
    def broken(*args, **kwargs):
        raise AssertionError("healthz must not query the database")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


@pytest.mark.django_db
def test_readyz_reports_each_check(client, settings):
    now = timezone.now()
    settings.TOUSU_READY_STRICT = False
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"  # no worker has beaten yet
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["workers"]["sla"] == {"status": "stale", "heartbeat_age_seconds": None}
    assert body["checks"]["outbox"] == {"status": "ok", "overdue_messages": 0}

    WorkerHeartbeat.objects.create(name="w:1", kinds=",".join(KINDS), started_at=now, beat_at=now)
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["checks"]["workers"]["imap"]["status"] == "ok"
    assert "degraded" not in body

    WorkerHeartbeat.objects.filter(name="w:1").update(beat_at=now - timedelta(minutes=5))
    settings.TOUSU_READY_STRICT = True
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["degraded"] == [f"worker {kind}" for kind in KINDS]


@pytest.mark.django_db
def test_readyz_counts_an_outbox_backlog(client, settings):
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="w:1", kinds=",".join(KINDS), started_at=now, beat_at=now)
    settings.TOUSU_READY_OUTBOX_BACKLOG = 1
    for number in range(2):
        Notification.objects.create(
            key=f"k{number}",
            template="t",
            transport="sms",
            address="+8613800000000",
            body="x",
            next_attempt_at=now - timedelta(minutes=10),
            created_at=now - timedelta(minutes=10),
        )
    body = client.get("/readyz").json()
    assert body["checks"]["outbox"] == {"status": "backlog", "overdue_messages": 2}
    assert body["degraded"] == ["outbox"]


@pytest.mark.django_db
def test_metrics_need_the_token(client, settings, people):
    settings.TOUSU_METRICS_TOKEN = "s3cret-token-for-prometheus"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.force_login(people["supervisor"])
    assert client.get("/metrics").status_code == 401  # staff, but not a superuser
    client.logout()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-for-prometheus").status_code == 200


@pytest.mark.django_db
def test_metrics_count_the_work(client, settings, cases):
    settings.TOUSU_METRICS_TOKEN = "s3cret-token-for-prometheus"
    sla_bootstrap()
    cases.register()
    cases.register(channel="app")
    client.get("/healthz")
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        name="host:7", kinds="sla", started_at=now, beat_at=now, last_seconds={"sla_warn": 0.25}
    )
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-for-prometheus").content.decode()
    lines = set(text.splitlines())
    assert 'tousu_cases_registered_total{channel="app"} 1.0' in lines
    assert 'tousu_cases_registered_total{channel="hotline"} 1.0' in lines
    assert 'tousu_worker_batch_seconds{job="sla_warn",worker="host:7"} 0.25' in lines
    assert "tousu_database_up 1.0" in lines
    running = SlaClock.objects.filter(state=ClockState.RUNNING)
    assert running.count() >= 2
    for kind in set(running.values_list("kind", flat=True)):
        assert f'tousu_clocks_running{{kind="{kind}"}} {float(running.filter(kind=kind).count())}' in lines
    assert any(
        line.startswith('tousu_http_requests_total{method="GET",status="2xx",view="healthz"}')
        for line in lines
    )
    assert "# TYPE tousu_http_request_duration_seconds histogram" in lines


@pytest.mark.django_db
def test_a_sane_request_id_is_echoed_and_a_bad_one_replaced(client, people):
    client.force_login(people["agent"])
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-0123456789abcdef")
    assert response["X-Request-ID"] == "req-0123456789abcdef"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert len(made) == 32
    assert made != "bad id with spaces"


@pytest.mark.django_db
def test_events_written_during_a_request_carry_its_id_and_the_worker_logs_it(cases, caplog):
    with request_id_bound("req-fromtheweb-0001"):
        case = cases.make(Status.ACCEPTED)
    events = ComplaintEvent.objects.filter(complaint=case)
    assert set(events.values_list("request_id", flat=True)) == {"req-fromtheweb-0001"}
    assert events.filter(pending_dispatch=True).exists()  # something for the worker to log about
    caplog.set_level(logging.INFO, logger="tousu.notifications")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
    caplog.handler.addFilter(RequestIdFilter())
    outbox_dispatch()
    mine = [
        r
        for r in caplog.records
        if r.name == "tousu.notifications" and getattr(r, "ticket_no", "") == case.ticket_no
    ]
    assert mine
    assert {r.request_id for r in mine} == {"req-fromtheweb-0001"}


def test_json_log_lines_are_one_object_each():
    record = logging.LogRecord("tousu.worker", logging.WARNING, __file__, 1, "batch took %ss", (3,), None)
    record.case = 42
    with request_id_bound("req-abc12345"):
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"], entry["request_id"], entry["case"]) == (
        "WARNING",
        "tousu.worker",
        "batch took 3s",
        "req-abc12345",
        42,
    )
    assert "\n" not in line


@pytest.mark.django_db(transaction=True)
def test_only_one_process_holds_a_named_lock(settings):
    """Another process asking for the same mailbox lock is told no while this one holds it."""
    code = (
        "import django, sys; django.setup(); from tousu.common.db import exclusive\n"
        "with exclusive(sys.argv[1]) as mine: print('got' if mine else 'busy')"
    )
    env_db = connection.settings_dict["NAME"]
    import os

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tousu.settings", "TOUSU_DATA_DIR": str(settings.DATA_DIR)}
    if connection.vendor == "postgresql":
        env["TOUSU_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{env_db}"
    else:
        env.pop("TOUSU_DATABASE_URL", None)

    def other() -> str:
        return subprocess.run(
            [sys.executable, "-c", code, "imap:box"], env=env, capture_output=True, text=True, timeout=120
        ).stdout.strip()

    with exclusive("imap:box") as mine:
        assert mine
        assert other() == "busy"
    assert other() == "got"


def test_check_deploy_lists_what_is_unsafe(settings, tmp_path, monkeypatch):
    from tousu.ops.checks import deployment_check

    settings.DATA_DIR = tmp_path
    settings.DEBUG = True
    settings.TOUSU_HTTPS = False
    settings.TOUSU_METRICS_TOKEN = ""
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = True
    settings.ALLOWED_HOSTS = ["*"]
    codes = {message.id for message in deployment_check()}
    assert {"tousu.W101", "tousu.W102", "tousu.W106", "tousu.W109", "tousu.W110"} <= codes

    settings.DEBUG = False
    settings.TOUSU_HTTPS = True
    settings.TOUSU_PUBLIC_URL = "https://tousu.example.com"
    settings.TOUSU_METRICS_TOKEN = "x" * 40
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = False
    settings.ALLOWED_HOSTS = ["tousu.example.com"]
    settings.TOUSU_EMAIL_TRANSPORT = "smtp"
    settings.TOUSU_SMS_TRANSPORT = "http"
    # In place (no setting_changed signal): the check reads the names, nothing connects.
    monkeypatch.setitem(settings.CACHES["default"], "BACKEND", "django.core.cache.backends.redis.RedisCache")
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.postgresql")
    (tmp_path / "secret_key").write_text("k" * 50)
    (tmp_path / "secret_key").chmod(0o644)
    assert [message.id for message in deployment_check()] == ["tousu.W111"]
    (tmp_path / "secret_key").chmod(0o600)
    assert deployment_check() == []
