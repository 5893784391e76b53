"""Delivery against real servers on loopback: an SMTP server (aiosmtpd) and an HTTP SMS gateway
(http.server), both started by these tests; the lease that makes a crashed worker's claim expire;
the customer's language; the progress and survey messages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.smtp import free_port
from tousu.common.links import survey_url
from tousu.complaints import services as svc
from tousu.complaints.states import Status
from tousu.notifications.models import CustomerLanguage, DeliveryAttempt, Notification
from tousu.notifications.services import (
    LOST_ERROR,
    customer_language_set,
    notification_record,
    notifications_claim,
    notifications_deliver,
    outbox_dispatch,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TICKET = "TS20260302000001"
PHONE_E164 = "+8613812348000"
ACK_SUBJECT = "您的投诉已受理"
ACK_BODY = f"【Tousu 客服】您的投诉已受理，受理编号 {TICKET}。我们将尽快处理，并在15日内答复您。"


@pytest.fixture(autouse=True)
def _chinese(settings):
    settings.LANGUAGE_CODE = "zh-hans"
    settings.TOUSU_MAIL_FROM = "Tousu 客服 <kefu@tousu.example>"


@pytest.fixture
def at_t0(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def attempts(n: Notification) -> list[tuple[Any, ...]]:
    return list(
        DeliveryAttempt.objects.filter(notification=n)
        .order_by("number")
        .values_list("number", "transport", "started_at", "finished_at", "outcome", "error", "response")
    )


def outbox_ids(settings) -> list[int]:
    path = settings.TOUSU_NOTIFY_FILE
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


# --- e-mail by SMTP ----------------------------------------------------------------------------


def test_an_email_is_delivered_by_smtp_exactly(cases, at_t0, smtp, settings):
    c = cases.make(Status.ACCEPTED, email="Zhang.San@Example.com", preferred_reply_channel="email")
    outbox_dispatch()
    n = Notification.objects.get(complaint=c)

    assert notifications_deliver() == 1

    [envelope] = smtp.received
    assert (envelope.mail_from, envelope.rcpt_tos) == ("kefu@tousu.example", ["zhang.san@example.com"])
    raw: bytes = envelope.original_content
    msg = message_from_bytes(raw, policy=policy.default)
    assert (
        msg["From"],
        msg["To"],
        msg["Subject"],
        msg["Message-ID"],
        msg["Auto-Submitted"],
        msg["X-Tousu-Loop"],
        str(msg["Date"]),
        msg.get_content_type(),
        msg.get_content_charset(),
    ) == (
        "Tousu 客服 <kefu@tousu.example>",
        "zhang.san@example.com",
        f"{ACK_SUBJECT} [{TICKET}]",
        f"<tousu.{n.pk}@tousu.example>",
        "auto-generated",
        "tousu.example",
        "Mon, 02 Mar 2026 01:00:00 -0000",  # T0 in UTC
        "text/plain",
        "utf-8",
    )
    assert msg.get_content() == ACK_BODY + "\r\n"
    # On the wire: headers in RFC 2047 UTF-8 words, the body as 8-bit UTF-8.
    head, _sep, body = raw.partition(b"\r\n\r\n")
    assert b"Subject: =?utf-8?b?5oKo55qE5oqV6K+J5bey5Y+X55CGIFtUUzIwMjYwMzAyMDAwMDAxXQ==?=" in head.split(
        b"\r\n"
    )
    assert b"From: =?utf-8?b?VG91c3Ug5a6i5pyN?= <kefu@tousu.example>" in head.split(b"\r\n")
    assert b"Content-Transfer-Encoding: 8bit" in head.split(b"\r\n")
    assert body == (ACK_BODY + "\n").encode("utf-8").replace(b"\n", b"\r\n")

    n.refresh_from_db()
    assert (n.status, n.attempts, n.sent_at) == ("sent", 1, T0)
    assert attempts(n) == [(1, "email", T0, T0, "sent", "", "250 2.0.0 Ok: queued as 4B7C1")]


def test_an_smtp_refusal_is_retried_and_both_attempts_recorded(cases, at_t0, smtp):
    smtp.replies = ["451 4.3.0 Try again later"]
    c = cases.make(Status.ACCEPTED, email="zs@example.com", preferred_reply_channel="email")
    outbox_dispatch()
    n = Notification.objects.get(complaint=c)

    assert notifications_deliver() == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.next_attempt_at) == ("pending", 1, T0 + timedelta(seconds=30))
    assert smtp.received == []

    at_t0.move_to(T0 + timedelta(seconds=30), tick=False)
    assert notifications_deliver() == 1
    assert len(smtp.received) == 1
    [first, second] = attempts(n)
    assert first[:5] == (1, "email", T0, T0, "failed")
    assert first[5].startswith("SMTP: ")
    assert first[6] == "451 4.3.0 Try again later"
    assert second == (
        2,
        "email",
        T0 + timedelta(seconds=30),
        T0 + timedelta(seconds=30),
        "sent",
        "",
        "250 2.0.0 Ok: queued as 4B7C1",
    )


def test_a_batch_shares_one_smtp_connection_and_a_refusal_opens_a_new_one(cases, at_t0, smtp):
    smtp.replies = ["250 2.0.0 Ok: queued as A1", "554 5.7.1 Rejected", "250 2.0.0 Ok: queued as C3"]
    for phone, address in [
        ("13900000001", "a@example.com"),
        ("13900000002", "b@example.com"),
        ("13900000003", "c@example.com"),
    ]:
        cases.make(Status.ACCEPTED, phone=phone, email=address, preferred_reply_channel="email")
    outbox_dispatch()

    assert notifications_deliver() == 3

    first, second, third = smtp.peers
    assert first == second  # the same connection for the batch…
    assert third != second  # …until a refusal: then a fresh one
    got = list(
        DeliveryAttempt.objects.order_by("notification_id").values_list(
            "notification__address", "outcome", "response"
        )
    )
    assert got == [
        ("a@example.com", "sent", "250 2.0.0 Ok: queued as A1"),
        ("b@example.com", "failed", "554 5.7.1 Rejected"),
        ("c@example.com", "sent", "250 2.0.0 Ok: queued as C3"),
    ]


def test_an_unreachable_smtp_server_is_a_failed_attempt(cases, at_t0, settings):
    settings.TOUSU_EMAIL_TRANSPORT = "smtp"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    c = cases.make(Status.ACCEPTED, email="zs@example.com", preferred_reply_channel="email")
    outbox_dispatch()
    assert notifications_deliver() == 1
    n = Notification.objects.get(complaint=c)
    assert (n.status, n.attempts) == ("pending", 1)
    assert n.last_error.startswith("SMTP: [Errno 111]")
    assert attempts(n)[0][4:] == ("failed", n.last_error, "")


# --- SMS through the HTTP gateway --------------------------------------------------------------


class Gateway:
    """A local SMS gateway: records each request; answers with the queued (status, body) pairs,
    then 200; ``delay`` makes it slow."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, bytes]] = []
        self.delay = 0.0


@pytest.fixture
def gateway(settings) -> Iterator[Gateway]:
    state = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers["Authorization"],
                    "content_type": self.headers["Content-Type"],
                    "json": json.loads(body.decode("utf-8")),
                }
            )
            if state.delay:
                time.sleep(state.delay)
            status, reply = state.answers.pop(0) if state.answers else (200, b'{"id":"msg-1"}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.TOUSU_SMS_TRANSPORT = "http"
    settings.TOUSU_SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    settings.TOUSU_SMS_GATEWAY_TOKEN = "gw-token-1"
    settings.TOUSU_SMS_GATEWAY_TIMEOUT = 5
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_sms_goes_to_the_gateway_after_a_failure_with_backoff(cases, at_t0, gateway, settings):
    gateway.answers = [(503, b"busy")]
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    n = Notification.objects.get()

    assert notifications_deliver() == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.next_attempt_at, n.last_error) == (
        "pending",
        1,
        T0 + timedelta(seconds=30),
        "SMS gateway answered HTTP 503",
    )
    at_t0.move_to(T0 + timedelta(seconds=29), tick=False)
    assert notifications_deliver() == 0  # backing off
    assert len(gateway.requests) == 1

    at_t0.move_to(T0 + timedelta(seconds=30), tick=False)
    assert notifications_deliver() == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.sent_at, n.last_error) == ("sent", 2, T0 + timedelta(seconds=30), "")

    expected = {
        "path": "/sms/send",
        "authorization": "Bearer gw-token-1",
        "content_type": "application/json; charset=utf-8",
        "json": {"to": PHONE_E164, "text": ACK_BODY, "reference": str(n.pk)},
    }
    assert gateway.requests == [expected, expected]
    assert attempts(n) == [
        (1, "sms", T0, T0, "failed", "SMS gateway answered HTTP 503", "HTTP 503 busy"),
        (
            2,
            "sms",
            T0 + timedelta(seconds=30),
            T0 + timedelta(seconds=30),
            "sent",
            "",
            'HTTP 200 {"id":"msg-1"}',
        ),
    ]
    assert outbox_ids(settings) == []  # nothing went to the development file


def test_a_gateway_that_does_not_answer_in_time_is_a_failed_attempt(cases, at_t0, gateway, settings):
    settings.TOUSU_SMS_GATEWAY_TIMEOUT = 1
    gateway.delay = 3
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    assert notifications_deliver() == 1
    n = Notification.objects.get()
    assert (n.status, n.attempts, n.last_error) == ("pending", 1, "SMS gateway unreachable: timed out")


def test_an_unreachable_gateway_is_a_failed_attempt(cases, at_t0, settings):
    settings.TOUSU_SMS_TRANSPORT = "http"
    settings.TOUSU_SMS_GATEWAY_URL = f"http://127.0.0.1:{free_port()}/sms"
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    assert notifications_deliver() == 1
    n = Notification.objects.get()
    assert (n.status, n.attempts, n.last_error) == (
        "pending",
        1,
        "SMS gateway unreachable: [Errno 111] Connection refused",
    )


# --- the lease: a worker that dies between claiming and sending ----------------------------------


def test_a_crash_between_claim_and_send_resends_exactly_that_message(cases, at_t0, settings):
    settings.TOUSU_NOTIFY_LEASE_SECONDS = 300
    first = cases.make(Status.ACCEPTED)
    second = cases.make(Status.ACCEPTED, phone="13900001111")
    outbox_dispatch()
    n1 = Notification.objects.get(complaint=first)
    n2 = Notification.objects.get(complaint=second)

    [claimed] = notifications_claim(batch=1)  # this worker then dies: nothing sent, nothing recorded
    assert claimed.pk == n1.pk
    n1.refresh_from_db()
    assert (n1.status, n1.attempts, n1.next_attempt_at) == ("pending", 1, T0 + timedelta(seconds=300))

    assert notifications_deliver() == 1  # another worker: only the unclaimed message
    assert outbox_ids(settings) == [n2.pk]

    at_t0.move_to(T0 + timedelta(seconds=299), tick=False)
    assert notifications_deliver() == 0  # the lease still holds

    at_t0.move_to(T0 + timedelta(seconds=300), tick=False)
    assert notifications_deliver() == 1
    assert outbox_ids(settings) == [n2.pk, n1.pk]  # exactly that one, once more
    n1.refresh_from_db()
    assert (n1.status, n1.attempts, n1.sent_at) == ("sent", 2, T0 + timedelta(seconds=300))
    later = T0 + timedelta(seconds=300)
    assert attempts(n1) == [
        (1, "sms", T0, later, "lost", LOST_ERROR, ""),
        (2, "sms", later, later, "sent", "", ""),
    ]
    assert [a[4] for a in attempts(n2)] == ["sent"]


def test_a_worker_whose_lease_ran_out_no_longer_decides(cases, at_t0, settings):
    """Worker A claims and is slow; B takes the message after the lease and sends it; A's late
    failure is recorded on its own attempt but does not put the sent message back to retry."""
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    [mine] = notifications_claim()
    at_t0.move_to(T0 + timedelta(seconds=settings.TOUSU_NOTIFY_LEASE_SECONDS), tick=False)
    assert notifications_deliver() == 1  # worker B
    notification_record(mine, delivered=False, error="too slow", response="")  # worker A, late
    n = Notification.objects.get()
    assert (n.status, n.attempts, n.last_error) == ("sent", 2, "")
    assert [(a[0], a[4], a[5]) for a in attempts(n)] == [(1, "failed", "too slow"), (2, "sent", "")]


def test_a_batch_that_runs_long_hands_the_rest_back_before_the_lease_ends(
    cases, at_t0, settings, monkeypatch
):
    from tousu.notifications import services as notify

    settings.TOUSU_NOTIFY_LEASE_SECONDS = 300

    class Slow:
        def send(self, notification: Notification) -> str:
            at_t0.shift(timedelta(seconds=200))  # this send took 200 s
            return "ok"

    monkeypatch.setattr(notify, "sender_for", lambda _transport: Slow())
    cases.make(Status.ACCEPTED)
    cases.make(Status.ACCEPTED, phone="13900001111")
    outbox_dispatch()
    n1, n2 = Notification.objects.order_by("id")

    assert notifications_deliver() == 1  # the second would start past half the lease: handed back

    n1.refresh_from_db()
    n2.refresh_from_db()
    later = T0 + timedelta(seconds=200)
    assert (n1.status, n1.attempts) == ("sent", 1)
    assert (n2.status, n2.attempts, n2.next_attempt_at) == ("pending", 0, later)
    assert attempts(n2) == []
    assert notifications_deliver() == 1
    n2.refresh_from_db()
    assert (n2.status, n2.attempts) == ("sent", 1)
    assert attempts(n2) == [(1, "sms", later, later + timedelta(seconds=200), "sent", "", "ok")]


# --- language, progress and the survey -----------------------------------------------------------


def test_a_customer_who_chose_english_gets_english_while_staff_get_the_default(cases, people, at_t0):
    c = cases.register()
    customer_language_set(customer_id=c.customer_id, language="en")
    svc.complaint_accept(actor=people["agent"], complaint_id=c.pk)
    svc.complaint_dispatch(
        actor=people["agent"],
        complaint_id=c.pk,
        lead_department_id=cases.org["dept"]["billing"].pk,
        assignee_id=people["handler"].pk,
    )
    outbox_dispatch()
    got = list(
        Notification.objects.order_by("id").values_list(
            "template", "transport", "language", "subject", "body"
        )
    )
    assert got == [
        (
            "ack",
            "sms",
            "en",
            "Your complaint has been accepted",
            f"[Tousu customer service] Your complaint has been accepted under ticket number {TICKET}. "
            "We will reply within 15 days.",
        ),
        (
            "progress_dispatched",
            "sms",
            "en",
            "Your complaint is being handled",
            f"[Tousu customer service] Your complaint {TICKET} is now with the department that handles it. "
            "We will reply soon.",
        ),
        ("staff_assigned", "inbox", "zh-hans", f"分配给您 {TICKET}", f"投诉 {TICKET}（不满意）已分配给您。"),
    ]
    assert CustomerLanguage.objects.get().language == "en"


def test_customer_language_set_refuses_an_unknown_language(cases):
    c = cases.register()
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        customer_language_set(customer_id=c.customer_id, language="fr")
    assert not CustomerLanguage.objects.exists()


def test_a_transfer_between_departments_tells_the_customer_nothing_more(cases, people, org, at_t0):
    c = cases.make(Status.DISPATCHED)
    svc.complaint_dispatch(
        actor=people["supervisor"], complaint_id=c.pk, lead_department_id=org["dept"]["network"].pk
    )
    outbox_dispatch()
    assert Notification.objects.filter(template="progress_dispatched").count() == 1


def test_a_reopened_case_tells_the_customer(cases, at_t0):
    c = cases.make(Status.REOPENED)
    outbox_dispatch()
    n = Notification.objects.get(complaint=c, template="progress_reopened")
    assert (n.transport, n.address, n.subject, n.body) == (
        "sms",
        PHONE_E164,
        "您的投诉已重新处理",
        f"【Tousu 客服】您的投诉 {TICKET} 已重新开始处理，我们会尽快与您联系。",
    )


def test_the_reply_comes_with_the_survey_link(cases, at_t0, settings):
    settings.TOUSU_PUBLIC_URL = "https://tousu.example"
    c = cases.make(Status.REPLIED)
    outbox_dispatch()
    reply = Notification.objects.get(complaint=c, template="reply")
    survey = Notification.objects.get(complaint=c, template="survey")
    url = survey_url(c.pk)
    assert url.startswith("https://tousu.example/portal/survey/")
    assert (reply.body, survey.transport, survey.address, survey.subject, survey.body) == (
        f"【Tousu 客服】关于投诉 {TICKET}：经核查已退还30元。",
        "sms",
        PHONE_E164,
        "请评价我们的处理",
        f"【Tousu 客服】关于投诉 {TICKET}，请花一分钟评价我们的处理：{url}",
    )


def test_no_survey_for_a_customer_who_cannot_be_reached(cases, at_t0):
    c = cases.make(Status.REPLIED, phone="", wechat_id="wx-zs", preferred_reply_channel="phone")
    outbox_dispatch()
    assert Notification.objects.filter(complaint=c, template="survey").count() == 0


# --- configuration -----------------------------------------------------------------------------


def _check(tmp_path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env.update(DJANGO_SETTINGS_MODULE="tousu.settings", TOUSU_DATA_DIR=str(tmp_path / "data"), **variables)
    return subprocess.run(
        [sys.executable, "-m", "tousu.cli", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"TOUSU_EMAIL_TRANSPORT": "pigeon"},
            "TOUSU_EMAIL_TRANSPORT must be one of smtp, file, console; got 'pigeon'",
        ),
        ({"TOUSU_SMS_TRANSPORT": "fax"}, "TOUSU_SMS_TRANSPORT must be one of http, file, console; got 'fax'"),
        (
            {"TOUSU_SMS_TRANSPORT": "http"},
            "TOUSU_SMS_GATEWAY_URL must be an http(s) URL when TOUSU_SMS_TRANSPORT=http",
        ),
        ({"TOUSU_SMTP_PORT": "smtp"}, "TOUSU_SMTP_PORT must be a whole number; got 'smtp'"),
        (
            {"TOUSU_IMAP_SSL": "maybe"},
            "TOUSU_IMAP_SSL must be one of 1/0, true/false, yes/no, on/off; got 'maybe'",
        ),
    ],
)
def test_a_bad_transport_setting_stops_start_up_naming_it(tmp_path, variables, message):
    result = _check(tmp_path, **variables)
    assert (result.returncode, result.stderr, result.stdout) == (
        2,
        f"tousu: configuration error: {message}\n",
        "",
    )


def test_settings_choose_the_senders(settings):
    from tousu.notifications.transports import FileSender, HttpSmsGateway, SmtpEmailSender, sender_for

    settings.TOUSU_NOTIFY_TRANSPORT = "file"
    settings.TOUSU_EMAIL_TRANSPORT, settings.TOUSU_SMS_TRANSPORT = "", ""
    assert [type(sender_for(t)) for t in ("email", "sms")] == [FileSender] * 2
    settings.TOUSU_EMAIL_TRANSPORT, settings.TOUSU_SMS_TRANSPORT = "smtp", "http"
    assert [type(sender_for(t)) for t in ("email", "sms")] == [SmtpEmailSender, HttpSmsGateway]


# --- the administration shows the records, read-only and masked -----------------------------------


def test_the_admin_shows_delivery_attempts_read_only_and_masked(client, cases, people, at_t0, gateway):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    gateway.answers = [(503, b"busy")]
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    notifications_deliver()
    n = Notification.objects.get()
    attempt = DeliveryAttempt.objects.get()
    client.force_login(people["admin"])

    page = client.get(f"/admin/notifications/notification/{n.pk}/change/").content.decode()
    assert "HTTP 503 busy" in page
    assert "138****8000" in page
    assert "13812348000" not in page
    listing = client.get("/admin/notifications/deliveryattempt/").content.decode()
    assert f"/admin/notifications/deliveryattempt/{attempt.pk}/change/" in listing
    detail = client.get(f"/admin/notifications/deliveryattempt/{attempt.pk}/change/")
    assert detail.status_code == 200
    assert "SMS gateway answered HTTP 503" in detail.content.decode()
    assert client.get("/admin/notifications/deliveryattempt/add/").status_code == 403


def test_a_permanent_smtp_refusal_fails_at_once_without_retries(cases, at_t0, smtp):
    """A 5xx answer to the message (here to its content) will be the same next time: the message
    is failed after one attempt; a 4xx answer is retried (the test above)."""
    smtp.replies = ["554 5.7.1 Message rejected as spam"]
    c = cases.make(Status.ACCEPTED, email="zs@example.com", preferred_reply_channel="email")
    outbox_dispatch()
    n = Notification.objects.get(complaint=c)

    assert notifications_deliver() == 1
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("failed", 1)
    assert n.last_error.startswith("SMTP: ")
    [only] = attempts(n)
    assert only[4:] == ("failed", n.last_error, "554 5.7.1 Message rejected as spam")
    at_t0.move_to(T0 + timedelta(hours=2), tick=False)
    assert notifications_deliver() == 0
    assert smtp.received == []


def test_a_one_time_code_reaches_the_gateway_in_clear_and_is_stored_masked(cases, at_t0, gateway, settings):
    from tousu.portal.services import tracking_code_request

    complaint = cases.make(Status.ACCEPTED)
    Notification.objects.all().delete()
    assert tracking_code_request(ticket_no=complaint.ticket_no, phone=PHONE_E164, binding="S", language="en")
    n = Notification.objects.get(template="otp")
    assert notifications_deliver() == 1
    [request] = gateway.requests
    text = request["json"]["text"]
    code = re.search(r"is (\d{6})\.", text).group(1)  # type: ignore[union-attr]
    assert text == n.body.replace("******", code)
    n.refresh_from_db()
    assert n.status == "sent"
    assert code not in n.body
    stored = " ".join(str(v) for v in Notification.objects.values().get(pk=n.pk).values())
    assert f"is {code}." not in stored
    assert code not in " ".join(
        str(v) for a in DeliveryAttempt.objects.filter(notification=n).values() for v in a.values()
    )
