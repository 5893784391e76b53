"""The staff inbox: a person's notifications newest first, unread ones marked, each linked to its
case; marking one or all read touches only the person's own items; the header badge's count."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tousu.common.errors import NotFound
from tousu.complaints import services as svc
from tousu.complaints.states import Status
from tousu.notifications.models import Notification, Transport
from tousu.notifications.selectors import inbox_items, inbox_unread_count
from tousu.notifications.services import inbox_mark_all_read, inbox_mark_read, outbox_dispatch

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def inbox(cases, people, time_machine):
    """Three cases dispatched to the billing handler, a minute apart (three "assigned" items for
    the handler), and one escalated (items for the supervisor and the manager… and the handler)."""
    made = []
    for minute in range(3):
        time_machine.move_to(T0 + timedelta(minutes=minute), tick=False)
        made.append(cases.make(Status.DISPATCHED))
    time_machine.move_to(T0 + timedelta(minutes=10), tick=False)
    svc.complaint_escalate(
        actor=people["supervisor"], complaint_id=made[0].pk, to_level=2, reason="媒体曝光风险"
    )
    outbox_dispatch()
    return made


def client_for(user) -> Client:
    client = Client(**EN)
    client.force_login(user)
    return client


def unread_of(user) -> list[int]:
    return sorted(
        Notification.objects.filter(
            recipient_user=user, transport=Transport.INBOX, read_at__isnull=True
        ).values_list("pk", flat=True)
    )


def test_the_inbox_lists_the_users_items_newest_first_each_linked_to_its_case(inbox, people):
    handler = people["handler"]
    items = list(inbox_items(user=handler))
    assert [(n.template, n.complaint_id) for n in items] == [
        ("staff_escalated", inbox[0].pk),
        ("staff_assigned", inbox[2].pk),
        ("staff_assigned", inbox[1].pk),
        ("staff_assigned", inbox[0].pk),
    ]
    response = client_for(handler).get(reverse("inbox"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<tr class="unread"') == 4
    assert html.count('<tr class="read"') == 0
    for case in inbox:
        assert f'href="/cases/{case.pk}/"' in html
    assert "4 unread" in html
    # Nobody else's items: the supervisor's escalation item is not on the handler's page.
    supervisor_item = Notification.objects.get(recipient_user=people["supervisor"])
    assert f'id="inbox-item-{supervisor_item.pk}"' not in html


def test_the_inbox_pages_25_items_at_a_time(inbox, people):
    handler = people["handler"]
    first = Notification.objects.filter(recipient_user=handler).order_by("id").first()
    assert first is not None
    Notification.objects.bulk_create(
        [
            Notification(
                key=f"test:{i}",
                complaint_id=first.complaint_id,
                template="staff_assigned",
                transport=Transport.INBOX,
                recipient_user=handler,
                subject=f"item {i}",
                body="—",
                status="sent",
                next_attempt_at=T0,
                created_at=T0 - timedelta(days=1, minutes=i),
            )
            for i in range(30)
        ]
    )
    client = client_for(handler)
    page1 = client.get(reverse("inbox")).content.decode()
    page2 = client.get(reverse("inbox") + "?page=2").content.decode()
    assert page1.count("<tr class=") == 25
    assert page2.count("<tr class=") == 9
    assert "Page 1 of 2" in page1
    assert "item 20" in page1
    assert "item 21" not in page1
    assert "item 21" in page2
    assert "item 29" in page2


def test_marking_one_read_changes_that_item_only(inbox, people):
    handler, supervisor = people["handler"], people["supervisor"]
    mine = unread_of(handler)
    others = unread_of(supervisor) + unread_of(people["manager"])
    assert len(mine) == 4
    assert len(others) == 2
    response = client_for(handler).post(reverse("inbox-read", args=[mine[0]]))
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox")
    assert unread_of(handler) == mine[1:]
    assert unread_of(supervisor) + unread_of(people["manager"]) == others
    page = client_for(handler).get(reverse("inbox")).content.decode()
    assert page.count('<tr class="unread"') == 3
    assert page.count('<tr class="read"') == 1
    # Again: nothing to do, no error.
    assert inbox_mark_read(actor=handler, notification_id=mine[0]) is False


def test_marking_another_persons_item_is_not_found_and_changes_nothing(inbox, people, unchanged):
    handler, supervisor = people["handler"], people["supervisor"]
    theirs = unread_of(supervisor)[0]
    client = client_for(handler)  # signing in records the time: before the snapshot
    with unchanged():
        response = client.post(reverse("inbox-read", args=[theirs]))
        assert response.status_code == 404
    with unchanged(), pytest.raises(NotFound):
        inbox_mark_read(actor=handler, notification_id=theirs)
    with unchanged(), pytest.raises(NotFound):
        inbox_mark_read(actor=handler, notification_id=10**9)
    # A customer's SMS is nobody's inbox item either.
    sms = Notification.objects.exclude(transport=Transport.INBOX).first()
    if sms is not None:
        with unchanged(), pytest.raises(NotFound):
            inbox_mark_read(actor=handler, notification_id=sms.pk)


def test_mark_all_read_reads_the_users_items_only(inbox, people):
    handler, supervisor, manager = people["handler"], people["supervisor"], people["manager"]
    others = {u.username: unread_of(u) for u in (supervisor, manager)}
    client = client_for(handler)
    response = client.post(reverse("inbox-read-all"))
    assert response.status_code == 302
    assert unread_of(handler) == []
    assert {u.username: unread_of(u) for u in (supervisor, manager)} == others
    assert Notification.objects.filter(recipient_user=handler, read_at__isnull=False).count() == 4
    page = client.get(reverse("inbox")).content.decode()
    assert "4 items marked read." in page
    assert inbox_mark_all_read(actor=handler) == 0


def test_reading_and_marking_need_a_post_and_a_signed_in_user(inbox, people):
    handler = people["handler"]
    item = unread_of(handler)[0]
    assert client_for(handler).get(reverse("inbox-read", args=[item])).status_code == 405
    assert client_for(handler).get(reverse("inbox-read-all")).status_code == 405
    anonymous = Client(**EN)
    assert anonymous.post(reverse("inbox-read-all")).status_code == 302
    assert anonymous.get(reverse("inbox")).status_code == 302
    assert anonymous.get(reverse("inbox-count")).status_code == 204
    assert unread_of(handler) != []


def test_the_badge_counts_the_unread_items_in_one_query(inbox, people):
    handler = people["handler"]
    client = client_for(handler)
    client.get(reverse("inbox"))  # the session is read once
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("inbox-count"))
    counts = [q["sql"] for q in queries.captured_queries if "notifications_notification" in q["sql"]]
    assert len(counts) == 1
    assert "COUNT" in counts[0].upper()
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    assert '<span class="count">4</span>' in html
    assert "unread items" in html
    inbox_mark_read(actor=handler, notification_id=unread_of(handler)[0])
    assert '<span class="count">3</span>' in client.get(reverse("inbox-count")).content.decode()
    inbox_mark_all_read(actor=handler)
    assert client.get(reverse("inbox-count")).content.decode().strip() == ""
    assert inbox_unread_count(user=people["supervisor"]) == 1


def test_the_badge_says_99_plus_above_99(people, cases):
    handler = people["handler"]
    case = cases.make(Status.DISPATCHED)
    Notification.objects.bulk_create(
        [
            Notification(
                key=f"many:{i}",
                complaint=case,
                template="staff_assigned",
                transport=Transport.INBOX,
                recipient_user=handler,
                subject="x",
                body="x",
                status="sent",
                next_attempt_at=T0,
                created_at=T0,
            )
            for i in range(120)
        ]
    )
    assert inbox_unread_count(user=handler) == 100
    html = client_for(handler).get(reverse("inbox-count")).content.decode()
    assert '<span class="count">99+</span>' in html


def test_every_staff_page_polls_the_badge(people):
    html = client_for(people["agent"]).get(reverse("queue", args=["mine"])).content.decode()
    assert 'hx-get="/inbox/count/"' in html
    assert 'hx-trigger="load, every 30s"' in html
    assert 'href="/inbox/"' in html


def test_the_inbox_page_costs_the_same_queries_however_many_items(inbox, people, cases):
    handler = people["handler"]
    client = client_for(handler)
    client.get(reverse("inbox"))
    with CaptureQueriesContext(connection) as before:
        assert client.get(reverse("inbox")).status_code == 200
    for _ in range(3):
        cases.make(Status.DISPATCHED)
    outbox_dispatch()
    assert Notification.objects.filter(recipient_user=handler).count() == 7
    with CaptureQueriesContext(connection) as after:
        assert client.get(reverse("inbox")).status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)
