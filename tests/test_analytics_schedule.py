"""Scheduled reports: a manager subscribes on a page; the worker e-mails the latest week's or
month's report once per period through the notification outbox, the .xlsx a real MIME attachment,
delivered to an SMTP server on loopback."""

from __future__ import annotations

import io
from datetime import date, datetime
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tousu.analytics.models import ReportDelivery, ReportSubscription
from tousu.analytics.services import analytics_consume
from tousu.analytics.services_schedule import due_period, report_subscribe, reports_send_scheduled
from tousu.audit.models import AuditEvent
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.complaints.states import Status
from tousu.notifications.models import Notification
from tousu.notifications.services import notifications_deliver

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def manager(people):
    m = people["manager"]
    m.email = "boss@example.com"
    m.save(update_fields=["email"])
    return m


def test_the_monthly_report_is_mailed_once_with_the_spreadsheet_attached(cases, manager, smtp, time_machine):
    time_machine.move_to(datetime(2026, 11, 10, 10, 0, tzinfo=ZONE), tick=False)
    cases.make(Status.ACCEPTED)
    cases.make(Status.ACCEPTED, phone="13900000031")
    while analytics_consume():
        pass
    assert report_subscribe(actor=manager, frequency="month", subscribed=True) is True
    time_machine.move_to(datetime(2026, 12, 1, 6, 0, tzinfo=ZONE), tick=False)

    assert reports_send_scheduled() == 1
    assert reports_send_scheduled() == 0  # the same period again: nothing
    assert notifications_deliver() == 1

    [delivery] = ReportDelivery.objects.all()
    assert delivery.period_start == date(2026, 11, 1)
    [envelope] = smtp.received
    assert envelope.rcpt_tos == ["boss@example.com"]
    msg = message_from_bytes(envelope.original_content, policy=policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    assert "2026年11月" in str(msg["Subject"])
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "tousu-report-month-2026-11-01.xlsx"
    assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(part.get_content()))
    assert book["说明"]["B1"].value == "2026年11月"
    cells = [c.value for row in book.worksheets[1].iter_rows() for c in row]
    assert "投诉量" in cells
    assert 2 in cells  # the month's two accepted cases
    assert Notification.objects.get().key == f"report:{delivery.subscription_id}:2026-11-01"

    time_machine.move_to(datetime(2026, 12, 31, 23, 0, tzinfo=ZONE), tick=False)
    assert reports_send_scheduled() == 0  # December is not over
    time_machine.move_to(datetime(2027, 1, 1, 0, 30, tzinfo=ZONE), tick=False)
    assert reports_send_scheduled() == 1
    assert sorted(ReportDelivery.objects.values_list("period_start", flat=True)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]


def test_a_period_already_queued_by_another_worker_is_not_queued_again(manager, time_machine):
    from tousu.analytics import services_schedule

    time_machine.move_to(datetime(2026, 12, 9, 9, 0, tzinfo=ZONE), tick=False)
    report_subscribe(actor=manager, frequency="week", subscribed=True)
    sub = ReportSubscription.objects.get()
    # Another worker read the same pending list and queued first: our insert meets the unique row.
    ReportDelivery.objects.create(
        subscription=sub, period_start=date(2026, 11, 30), created_at=sub.created_at
    )
    assert due_period("week").start == date(2026, 11, 30)
    assert services_schedule._send(sub, due_period("week")) == 0
    assert ReportDelivery.objects.count() == 1
    assert Notification.objects.count() == 0


def test_a_worker_that_dies_while_building_leaves_nothing_and_sends_later(manager, time_machine, monkeypatch):
    from tousu.analytics import services_schedule

    time_machine.move_to(datetime(2026, 12, 9, 9, 0, tzinfo=ZONE), tick=False)
    report_subscribe(actor=manager, frequency="week", subscribed=True)

    def die(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(services_schedule, "report_xlsx", die)
    with pytest.raises(RuntimeError):
        reports_send_scheduled()
    assert (ReportDelivery.objects.count(), Notification.objects.count()) == (0, 0)
    monkeypatch.undo()
    assert reports_send_scheduled() == 1
    assert (ReportDelivery.objects.count(), Notification.objects.count()) == (1, 1)


def test_subscribing_is_for_report_readers_with_an_address_and_is_audited(people, manager, unchanged):
    with unchanged(), pytest.raises(PermissionDenied):
        report_subscribe(actor=people["agent"], frequency="week", subscribed=True)
    with unchanged(), pytest.raises(ValidationError):
        report_subscribe(actor=people["supervisor"], frequency="week", subscribed=True)  # no e-mail
    with unchanged(), pytest.raises(ValidationError):
        report_subscribe(actor=manager, frequency="daily", subscribed=True)

    assert report_subscribe(actor=manager, frequency="week", subscribed=True) is True
    assert report_subscribe(actor=manager, frequency="week", subscribed=True) is False
    assert report_subscribe(actor=manager, frequency="week", subscribed=False) is True
    assert list(
        AuditEvent.objects.filter(object_type="report_subscription")
        .order_by("pk")
        .values_list("actor__username", "payload")
    ) == [
        ("manager", {"frequency": "week", "subscribed": True}),
        ("manager", {"frequency": "week", "subscribed": False}),
    ]


def test_the_page_subscribes_and_unsubscribes(client, manager, people):
    client.force_login(manager)
    page = client.get("/reports/subscriptions/")
    assert page.status_code == 200
    assert 'name="frequency" value="month"' in page.content.decode()

    answer = client.post("/reports/subscriptions/", {"frequency": ["week", "month"]})
    assert answer.status_code == 200
    assert sorted(ReportSubscription.objects.values_list("frequency", flat=True)) == ["month", "week"]
    assert client.post("/reports/subscriptions/", {"frequency": ["week"]}).status_code == 200
    assert list(ReportSubscription.objects.values_list("frequency", flat=True)) == ["week"]

    assert client.post("/reports/subscriptions/", {"frequency": ["hourly"]}).status_code == 400
    assert list(ReportSubscription.objects.values_list("frequency", flat=True)) == ["week"]

    client.force_login(people["agent"])
    assert client.post("/reports/subscriptions/", {"frequency": ["week"]}).status_code == 403
    assert ReportSubscription.objects.count() == 1
