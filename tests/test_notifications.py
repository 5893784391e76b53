"""The outbox: case events become notifications exactly once; delivery retries with backoff."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from tousu.accounts.models import ApprovalLimit
from tousu.accounts.roles import Role
from tousu.complaints import services as svc
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.states import Status
from tousu.notifications import services as notify
from tousu.notifications.models import Notification
from tousu.notifications.services import notifications_deliver, outbox_dispatch
from tousu.notifications.transports import DeliveryError

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TICKET = "TS20260302000001"
PHONE_E164 = "+8613812348000"
ACK_SUBJECT = "您的投诉已受理"
ACK_EMAIL_SUBJECT = f"{ACK_SUBJECT} [{TICKET}]"  # the ticket number comes back in "Re:"
ACK_BODY = f"【Tousu 客服】您的投诉已受理，受理编号 {TICKET}。我们将尽快处理，并在15日内答复您。"


@pytest.fixture(autouse=True)
def _chinese(settings):
    """Messages are written in the default language, whatever TOUSU_LANGUAGE the run has."""
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture
def at_t0(time_machine):
    """The clock stands still at T0, so the ticket number and every time are known."""
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def english(_chinese, settings):
    """English texts: labels (level, remedy kind, reason) are the msgids, independent of the catalogue."""
    settings.LANGUAGE_CODE = "en"


def outbox_lines(settings) -> list[dict[str, object]]:
    path = settings.TOUSU_NOTIFY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rows(**filters) -> list[tuple[object, ...]]:
    return list(
        Notification.objects.filter(**filters)
        .order_by("id")
        .values_list("template", "transport", "address", "recipient_user__username", "status")
    )


# --- the acknowledgement, end to end --------------------------------------------------------------


def test_accepting_a_case_makes_one_sms_to_the_customer(cases, at_t0):
    c = cases.make(Status.ACCEPTED)
    event = ComplaintEvent.objects.get(complaint=c, kind=EventKind.ACCEPTED)
    assert event.pending_dispatch is True
    assert Notification.objects.count() == 0  # nothing before the worker runs

    assert outbox_dispatch() == 1

    n = Notification.objects.get()
    assert (
        n.key,
        n.event_id,
        n.complaint_id,
        n.template,
        n.transport,
        n.address,
        n.recipient_user,
        n.language,
        n.subject,
        n.body,
    ) == (
        f"{event.pk}:ack:sms:{PHONE_E164}",
        event.pk,
        c.pk,
        "ack",
        "sms",
        PHONE_E164,
        None,
        "zh-hans",
        ACK_SUBJECT,
        ACK_BODY,
    )
    assert TICKET in n.body
    assert (n.status, n.attempts, n.next_attempt_at, n.created_at, n.sent_at, n.last_error) == (
        "pending",
        0,
        T0,
        T0,
        None,
        "",
    )


def test_delivery_writes_the_outbox_line_and_marks_it_sent(cases, at_t0, settings, unchanged):
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    assert outbox_lines(settings) == []
    n = Notification.objects.get()

    at_t0.move_to(T0 + timedelta(seconds=5), tick=False)
    assert notifications_deliver() == 1

    assert outbox_lines(settings) == [
        {"id": n.pk, "transport": "sms", "to": PHONE_E164, "subject": ACK_SUBJECT, "body": ACK_BODY}
    ]
    n.refresh_from_db()
    assert (n.status, n.attempts, n.sent_at, n.last_error) == ("sent", 1, T0 + timedelta(seconds=5), "")
    with unchanged():
        assert notifications_deliver() == 0  # a sent message is never sent again
    assert len(outbox_lines(settings)) == 1


def test_an_event_becomes_notifications_exactly_once(cases, at_t0, unchanged):
    c = cases.make(Status.ACCEPTED)
    assert outbox_dispatch() == 1
    event = ComplaintEvent.objects.get(complaint=c, kind=EventKind.ACCEPTED)
    assert event.pending_dispatch is False

    with unchanged():
        assert outbox_dispatch() == 0
    assert Notification.objects.count() == 1

    # Even if the flag came back (a worker crashed after writing), the unique key keeps one row.
    ComplaintEvent.objects.filter(pk=event.pk).update(pending_dispatch=True)
    assert outbox_dispatch() == 1
    assert Notification.objects.count() == 1
    assert ComplaintEvent.objects.get(pk=event.pk).pending_dispatch is False


def test_events_that_notify_nobody_are_not_pending(cases, people, at_t0, unchanged):
    c = cases.make(Status.ACCEPTED)
    assert ComplaintEvent.objects.get(complaint=c, kind=EventKind.REGISTERED).pending_dispatch is False
    outbox_dispatch()
    note = svc.complaint_note(actor=people["agent"], complaint_id=c.pk, text="用户情绪激动，注意安抚")
    assert (note.kind, note.pending_dispatch) == ("note_added", False)
    with unchanged():
        assert outbox_dispatch() == 0
    assert list(ComplaintEvent.objects.filter(pending_dispatch=True)) == []


def test_a_notifying_event_with_nobody_to_tell_is_cleared_without_notifications(cases, people, org, at_t0):
    c = cases.make(Status.ACCEPTED)
    outbox_dispatch()
    before = Notification.objects.count()
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=c.pk, lead_department_id=org["dept"]["legal"].pk
    )
    event = ComplaintEvent.objects.get(complaint=c, kind=EventKind.DISPATCHED)
    assert event.pending_dispatch is True
    assert outbox_dispatch() == 1  # legal has no handler
    assert Notification.objects.filter(transport="inbox").count() == 0
    # only the customer hears of it: the case went to the department that handles it
    assert Notification.objects.count() == before + 1
    assert Notification.objects.filter(template="progress_dispatched").count() == 1
    event.refresh_from_db()
    assert event.pending_dispatch is False


# --- which address ------------------------------------------------------------------------------


def test_customer_who_prefers_email_gets_an_email(cases, at_t0, settings):
    c = cases.make(Status.ACCEPTED, email="Zhang.San@Example.com", preferred_reply_channel="email")
    outbox_dispatch()
    n = Notification.objects.get(complaint=c)
    assert (n.template, n.transport, n.address, n.subject, n.body) == (
        "ack",
        "email",
        "zhang.san@example.com",
        ACK_EMAIL_SUBJECT,
        ACK_BODY,
    )
    assert notifications_deliver() == 1
    assert outbox_lines(settings) == [
        {
            "id": n.pk,
            "transport": "email",
            "to": "zhang.san@example.com",
            "subject": ACK_EMAIL_SUBJECT,
            "body": ACK_BODY,
        }
    ]


def test_email_preferred_but_no_address_falls_back_to_sms(cases, at_t0):
    c = cases.make(Status.ACCEPTED, preferred_reply_channel="email")
    outbox_dispatch()
    assert rows(complaint=c) == [("ack", "sms", PHONE_E164, None, "pending")]


def test_reply_by_sms_is_sent_to_the_customer(cases, at_t0):
    c = cases.make(Status.REPLIED)  # the builder replies by SMS with "经核查已退还30元。"
    assert outbox_dispatch() == 5  # accepted, dispatched, investigating, plan proposed (TMF621 hub), replied
    n = Notification.objects.get(complaint=c, template="reply")
    assert (n.transport, n.address, n.subject, n.body) == (
        "sms",
        PHONE_E164,
        "投诉处理答复",
        f"【Tousu 客服】关于投诉 {TICKET}：经核查已退还30元。",
    )


def test_reply_by_phone_creates_no_customer_reply_message(cases, at_t0):
    c = cases.make(Status.REPLIED, fcr=True)  # answered on the phone; the customer prefers SMS
    assert c.preferred_reply_channel == "sms"
    assert outbox_dispatch() == 2  # accepted, replied
    # no reply message; the survey link still goes to the customer, who can be reached by SMS
    assert rows(complaint=c) == [
        ("ack", "sms", PHONE_E164, None, "pending"),
        ("survey", "sms", PHONE_E164, None, "pending"),
    ]
    assert ComplaintEvent.objects.filter(complaint=c, pending_dispatch=True).count() == 0


@pytest.mark.parametrize("channel", ["phone", "letter", "in_person", "wechat", "app"])
def test_reply_given_outside_sms_and_email_is_not_sent(cases, people, at_t0, channel):
    c = cases.make(Status.PLAN_PROPOSED, email="zs@example.com")
    svc.complaint_reply(actor=people["handler"], complaint_id=c.pk, channel=channel, content="已答复。")
    outbox_dispatch()
    assert Notification.objects.filter(complaint=c, template="reply").count() == 0


def test_reply_goes_out_by_the_channel_it_was_given_on(cases, people, at_t0):
    """The customer said 'call me', but the handler answered by SMS: that SMS must be sent."""
    c = cases.make(Status.PLAN_PROPOSED, preferred_reply_channel="phone", email="zs@example.com")
    svc.complaint_reply(actor=people["handler"], complaint_id=c.pk, channel="email", content="详见附件说明。")
    outbox_dispatch()
    assert rows(complaint=c, template="reply") == [("reply", "email", "zs@example.com", None, "pending")]
    d = cases.make(Status.PLAN_PROPOSED, preferred_reply_channel="phone", phone="13912345678")
    svc.complaint_reply(actor=people["handler"], complaint_id=d.pk, channel="sms", content="已退款。")
    outbox_dispatch()
    assert rows(complaint=d, template="reply") == [("reply", "sms", "+8613912345678", None, "pending")]


def test_rejection_tells_the_reason_label_and_explanation(cases, english, at_t0):
    c = cases.make(Status.REJECTED)
    assert outbox_dispatch() == 1
    n = Notification.objects.get(complaint=c)
    assert (n.template, n.transport, n.language, n.subject, n.body) == (
        "rejected",
        "sms",
        "en",
        "About your complaint",
        f"[Tousu customer service] Your complaint ({TICKET}) cannot be accepted: Past the time limit for "
        "complaints. 超过5个月的账单争议不予受理。 You may appeal to the communications regulator.",
    )


def test_texts_are_in_the_configured_language_whatever_the_thread_speaks(cases, people, english, at_t0):
    c = cases.make(Status.DISPATCHED)
    with translation.override("zh-hans"):  # e.g. the worker called from a Chinese page
        outbox_dispatch()
    n = Notification.objects.get(complaint=c, template="staff_assigned")
    assert (n.language, n.body) == ("en", f"Case {TICKET} (Dissatisfied) is now yours.")


# --- staff inboxes ------------------------------------------------------------------------------


def test_dispatch_with_assignee_puts_one_item_in_their_inbox(cases, people, english, at_t0):
    c = cases.make(Status.DISPATCHED)
    assert outbox_dispatch() == 2  # accepted, dispatched
    inbox = Notification.objects.filter(transport="inbox")
    assert inbox.count() == 1
    n = inbox.get()
    assert (
        n.complaint_id,
        n.template,
        n.recipient_user,
        n.address,
        n.subject,
        n.body,
        n.status,
        n.sent_at,
        n.attempts,
        n.read_at,
    ) == (
        c.pk,
        "staff_assigned",
        people["handler"],
        "",
        f"Assigned to you: {TICKET}",
        f"Case {TICKET} (Dissatisfied) is now yours.",  # no SMS signature on a staff item
        "sent",
        T0,
        0,
        None,
    )
    # only the customer's messages (acknowledgement, progress) go through a transport
    assert notifications_deliver() == 2
    n.refresh_from_db()
    assert n.attempts == 0


def test_dispatch_without_assignee_tells_the_department_handlers(cases, people, org, english, at_t0):
    c = cases.make(Status.ACCEPTED)
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=c.pk, lead_department_id=org["dept"]["billing"].pk
    )
    outbox_dispatch()
    assert rows(complaint=c, transport="inbox") == [("staff_dispatched", "inbox", "", "handler", "sent")]
    n = Notification.objects.get(complaint=c, transport="inbox")
    assert n.body == f"Case {TICKET} (Dissatisfied) was dispatched to 计费结算部."


def approvers_told(complaint) -> list[str]:
    return sorted(
        Notification.objects.filter(
            complaint=complaint, template="staff_approval", status="sent"
        ).values_list("recipient_user__username", flat=True)
    )


def test_remedy_of_100_asks_supervisor_and_manager(cases, english, at_t0):
    c = cases.make(Status.AWAITING_APPROVAL)  # 100 元 compensation, above the handler's 50
    outbox_dispatch()
    assert approvers_told(c) == ["manager", "supervisor"]
    bodies = set(
        Notification.objects.filter(complaint=c, template="staff_approval").values_list("body", flat=True)
    )
    assert bodies == {f"Case {TICKET} requests Compensation of 100.00 yuan and needs your approval."}


def test_remedy_of_1000_asks_only_the_manager(cases, people, at_t0):
    c = cases.make(Status.PLAN_PROPOSED)
    svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="1000")
    outbox_dispatch()
    assert approvers_told(c) == ["manager"]


def test_remedy_approvers_follow_the_configured_limits(cases, at_t0):
    ApprovalLimit.objects.filter(role=Role.SUPERVISOR).update(max_amount=80)
    c = cases.make(Status.AWAITING_APPROVAL)  # 100 元
    outbox_dispatch()
    assert approvers_told(c) == ["manager"]


# --- retries --------------------------------------------------------------------------------------


class Down:
    """A transport that is down: every send fails."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, notification: Notification) -> None:
        self.calls += 1
        raise DeliveryError("SMS gateway timed out")


@pytest.fixture
def down(monkeypatch) -> Down:
    transport = Down()
    monkeypatch.setattr(notify, "sender_for", lambda _transport: transport)
    return transport


def test_failed_delivery_is_retried_with_doubling_backoff_then_given_up(
    cases, at_t0, down, settings, unchanged
):
    settings.TOUSU_NOTIFY_MAX_ATTEMPTS = 10
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    n = Notification.objects.get()

    assert notifications_deliver() == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.next_attempt_at, n.last_error, n.sent_at) == (
        "pending",
        1,
        T0 + timedelta(seconds=30),
        "SMS gateway timed out",
        None,
    )
    at_t0.move_to(T0 + timedelta(seconds=29), tick=False)
    with unchanged():
        assert notifications_deliver() == 0  # not due yet
    assert down.calls == 1

    at_t0.move_to(T0 + timedelta(seconds=30), tick=False)
    assert notifications_deliver() == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.next_attempt_at) == ("pending", 2, T0 + timedelta(seconds=30 + 60))

    delays = []
    while True:
        due = n.next_attempt_at
        at_t0.move_to(due, tick=False)
        assert notifications_deliver() == 1
        n.refresh_from_db()
        if n.status != "pending":
            break
        delays.append(int((n.next_attempt_at - due).total_seconds()))
    assert delays == [120, 240, 480, 960, 1920, 3600, 3600]  # doubling, at most an hour
    assert (n.status, n.attempts, n.last_error, n.sent_at) == ("failed", 10, "SMS gateway timed out", None)
    assert down.calls == 10

    at_t0.move_to(T0 + timedelta(days=30), tick=False)
    with unchanged():
        assert notifications_deliver() == 0  # given up for good
    assert outbox_lines(settings) == []


def test_default_max_attempts_gives_up_after_exactly_that_many(cases, at_t0, down, settings):
    max_attempts = settings.TOUSU_NOTIFY_MAX_ATTEMPTS
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    n = Notification.objects.get()
    for attempt in range(1, max_attempts + 1):
        at_t0.move_to(n.next_attempt_at, tick=False)
        assert notifications_deliver() == 1
        n.refresh_from_db()
        assert (n.attempts, n.status) == (attempt, "failed" if attempt == max_attempts else "pending")


def test_delivery_succeeds_once_the_transport_is_back(cases, at_t0, down, monkeypatch, settings):
    cases.make(Status.ACCEPTED)
    outbox_dispatch()
    n = Notification.objects.get()
    notifications_deliver()
    monkeypatch.undo()  # the gateway is back: the real file transport again
    at_t0.move_to(T0 + timedelta(seconds=30), tick=False)
    assert notifications_deliver() == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.sent_at, n.last_error) == ("sent", 2, T0 + timedelta(seconds=30), "")
    assert [line["id"] for line in outbox_lines(settings)] == [n.pk]


def test_a_direct_message_is_queued_once_per_key_and_delivered(at_t0, settings, unchanged):
    first = notify.notification_queue(
        key="otp:1", template="otp", transport="sms", address=PHONE_E164, body="code 123456"
    )
    assert first is not None
    assert (first.event_id, first.complaint_id, first.status, first.language) == (
        None,
        None,
        "pending",
        "zh-hans",
    )
    with unchanged():
        again = notify.notification_queue(
            key="otp:1", template="otp", transport="sms", address=PHONE_E164, body="code 999999"
        )
    assert again is None
    assert notifications_deliver() == 1
    assert [(line["to"], line["body"]) for line in outbox_lines(settings)] == [(PHONE_E164, "code 123456")]


def test_a_direct_message_cannot_go_to_a_staff_inbox(at_t0, unchanged):
    with unchanged(), pytest.raises(ValueError, match="inbox"):
        notify.notification_queue(key="x", template="otp", transport="inbox", address="", body="x")


def test_fanouts_add_notifications_in_the_same_dispatch(cases, at_t0):
    case = cases.make(Status.ACCEPTED)
    seen: list[str] = []

    def fanout(event, now):
        seen.append(event.kind)
        return [
            Notification(
                key=f"{event.pk}:hook",
                event=event,
                complaint=event.complaint,
                template="hook",
                transport="webhook",
                address="http://127.0.0.1:9/hook",
                body="{}",
                next_attempt_at=now,
                created_at=now,
            )
        ]

    assert outbox_dispatch(fanouts=[fanout]) == 1
    assert seen == [EventKind.ACCEPTED]
    assert rows(complaint=case, transport="webhook") == [
        ("hook", "webhook", "http://127.0.0.1:9/hook", None, "pending")
    ]
