"""Reply templates filled from the case (a missing field refuses the template), the SMS length
rule, the composer's three modes through the services, and the delivery states of what the
customer was sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tousu.common.errors import PermissionDenied, ValidationError
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.states import Status
from tousu.knowledge import services as kb
from tousu.knowledge.models import CustomerMessage
from tousu.knowledge.selectors import case_messages
from tousu.knowledge.text import sms_count
from tousu.knowledge.variables import fill, template_fields
from tousu.notifications.models import Notification, Transport
from tousu.notifications.services import notification_record, notifications_claim, outbox_dispatch

pytestmark = pytest.mark.django_db


def test_fields_are_filled_from_the_case(cases, people):
    c = cases.make(Status.PLAN_PROPOSED)
    due = timezone.localtime(c.plans.get().deadline).strftime("%Y-%m-%d")
    text = fill("{customer_title}您好，编号{ticket_no}，{due_date}前完成。", c, people["agent"])
    assert text == f"张三您好，编号{c.ticket_no}，{due}前完成。"


def test_a_template_naming_a_field_the_case_lacks_is_refused_with_what_is_missing(cases, people):
    c = cases.make(Status.ACCEPTED)
    with pytest.raises(ValidationError) as refused:
        fill("已退还{amount}元，{due_date}前到账。编号{ticket_no}", c, people["agent"])
    message = refused.value.message
    assert "the approved refund or compensation amount ({amount})" in message
    assert "the resolution plan's deadline ({due_date})" in message
    assert "{ticket_no}" not in message


def test_an_unknown_field_or_broken_braces_are_refused():
    with pytest.raises(ValidationError, match=r"\{balance\}, which is not a known field"):
        template_fields("余额{balance}元")
    with pytest.raises(ValidationError, match="braces"):
        template_fields("余额{amount元")
    assert template_fields("{ticket_no}{amount}{ticket_no}") == ["ticket_no", "amount"]


def test_the_sms_rule_70_single_67_per_segment_for_chinese_160_153_for_gsm():
    assert sms_count("").segments == 0
    assert (sms_count("中" * 70).segments, sms_count("中" * 71).segments) == (1, 2)
    assert (sms_count("中" * 134).segments, sms_count("中" * 135).segments) == (2, 3)
    assert sms_count("中" * 71).per_segment == 67
    assert (sms_count("a" * 160).segments, sms_count("a" * 161).segments) == (1, 2)
    assert (sms_count("a" * 161).encoding, sms_count("a中").encoding) == ("gsm7", "ucs2")
    assert sms_count("€").length == 2  # the GSM extension table takes two septets
    assert sms_count("😀").length == 2  # outside the BMP: two UCS-2 units


def test_note_mode_writes_an_internal_note_only(cases, people):
    c = cases.make(Status.ACCEPTED)
    event = kb.compose_send(
        actor=people["agent"], complaint_id=c.pk, mode="note", text="已致电用户，未接通。"
    )
    assert (event.kind, event.payload) == (EventKind.NOTE_ADDED, {"text": "已致电用户，未接通。"})
    assert not Notification.objects.filter(complaint=c, template="message").exists()


def test_message_mode_queues_the_exact_text_on_the_preferred_channel(cases, people):
    c = cases.make(Status.ACCEPTED)
    message = kb.compose_send(
        actor=people["agent"], complaint_id=c.pk, mode="message", text="请提供账单截图。"
    )
    assert isinstance(message, CustomerMessage)
    n = message.notification
    assert (n.transport, n.address, n.template) == (Transport.SMS, "+8613812348000", "message")
    assert n.body == f"【Tousu 客服】关于投诉 {c.ticket_no}：请提供账单截图。"
    assert (message.actor, message.channel) == (people["agent"], "sms")
    assert c.events.filter(kind=EventKind.REPLIED).count() == 0  # not the formal reply


def test_message_mode_refuses_a_channel_that_cannot_carry_it(cases, people, unchanged):
    c = cases.make(Status.ACCEPTED, preferred_reply_channel="phone")
    with unchanged(), pytest.raises(ValidationError, match="prefers to be answered by Phone"):
        kb.compose_send(actor=people["agent"], complaint_id=c.pk, mode="message", text="您好")


def test_reply_mode_is_the_formal_reply_through_complaint_reply(cases, people):
    c = cases.make(Status.PLAN_PROPOSED)
    reply = kb.compose_send(
        actor=people["handler"], complaint_id=c.pk, mode="reply", channel="sms", text="经核查已退还30元。"
    )
    c.refresh_from_db()
    assert (c.status, reply.content) == (Status.REPLIED, "经核查已退还30元。")
    assert c.events.filter(kind=EventKind.REPLIED).count() == 1


def test_refused_composer_calls_change_nothing(cases, people, unchanged):
    c = cases.make(Status.ACCEPTED)
    with unchanged(), pytest.raises(ValidationError, match="not a composer mode"):
        kb.compose_send(actor=people["agent"], complaint_id=c.pk, mode="tweet", text="x")
    with unchanged(), pytest.raises(PermissionDenied):
        kb.compose_send(actor=people["auditor"], complaint_id=c.pk, mode="message", text="x")
    with unchanged(), pytest.raises(ValidationError, match="required"):
        kb.compose_send(actor=people["agent"], complaint_id=c.pk, mode="message", text="  ")


def _deliver(notification: Notification, *, ok: bool, error: str = "", permanent: bool = False) -> None:
    """One delivery attempt of this message only (the others wait), recorded as the worker does."""
    now = timezone.now()
    Notification.objects.exclude(pk=notification.pk).update(next_attempt_at=now + timedelta(hours=1))
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=now - timedelta(seconds=1))
    (claimed,) = notifications_claim(batch=50)
    notification_record(
        claimed, delivered=ok, error=error, response="250 ok" if ok else "", permanent=permanent
    )


def test_the_timeline_shows_queued_sent_failed_with_reason_and_retried(cases, people, settings):
    settings.TOUSU_NOTIFY_MAX_ATTEMPTS = 2
    c = cases.make(Status.ACCEPTED)
    outbox_dispatch()  # the acknowledgement the acceptance asked for
    Notification.objects.filter(complaint=c).exclude(template="message").delete()
    first = kb.customer_message_send(actor=people["agent"], complaint_id=c.pk, text="第一条").notification
    second = kb.customer_message_send(actor=people["agent"], complaint_id=c.pk, text="第二条").notification
    third = kb.customer_message_send(actor=people["agent"], complaint_id=c.pk, text="第三条").notification
    states = [(m.notification.body[-3:], m.state, m.reason, m.retried) for m in case_messages(c.pk)]
    assert states == [
        ("第一条", "queued", "", False),
        ("第二条", "queued", "", False),
        ("第三条", "queued", "", False),
    ]
    _deliver(first, ok=True)
    _deliver(second, ok=False, error="gateway 503")
    _deliver(third, ok=False, error="gateway 503")
    _deliver(third, ok=False, error="number unreachable")
    states = [(m.state, m.reason, m.retried) for m in case_messages(c.pk)]
    assert states == [
        ("sent", "", False),
        ("retrying", "gateway 503", False),
        ("failed", "number unreachable", True),
    ]
    _deliver(second, ok=True)
    row = case_messages(c.pk)[1]
    assert (row.state, row.retried, [a.outcome for a in row.attempts]) == ("sent", True, ["failed", "sent"])
    assert [a.error for a in row.attempts] == ["gateway 503", ""]


def test_the_formal_reply_shows_in_the_messages_with_its_delivery(cases, people):
    c = cases.make(Status.PLAN_PROPOSED)
    kb.compose_send(
        actor=people["handler"], complaint_id=c.pk, mode="reply", channel="sms", text="经核查已退还30元。"
    )
    while outbox_dispatch():
        pass
    templates = [m.notification.template for m in case_messages(c.pk)]
    assert templates[-2:] == ["reply", "survey"]
    assert ComplaintEvent.objects.filter(complaint=c, kind=EventKind.REPLIED).count() == 1
