"""A slow webhook subscriber does not hold up other deliveries (issue 9, point 13): lanes run side
by side, a lane's time budget hands its unsent messages back at once (lease cleared), and so does a
worker that is stopping. Real loopback HTTP receivers, one of which sleeps."""

from __future__ import annotations

import threading
import time

import pytest
from django.utils import timezone

from tests.test_api import ticket
from tests.test_api_hub import Receiver, subscribe
from tests.test_api_hub import api as api
from tousu.api.hub import tmf_fanout
from tousu.notifications.models import DeliveryAttempt, DeliveryStatus, Notification, Transport
from tousu.notifications.services import notifications_deliver, outbox_dispatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def receivers():
    fast, slow = Receiver(), Receiver()
    slow.delay = 1.0
    yield fast, slow
    fast.close()
    slow.close()


@pytest.fixture(autouse=True)
def _budgets(settings):
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = True
    settings.TOUSU_WEBHOOK_TIMEOUT = 5
    settings.TOUSU_NOTIFY_LANE_SECONDS = 2
    settings.TOUSU_NOTIFY_CONCURRENCY = 4
    settings.TOUSU_NOTIFY_BATCH = 50


def _queue(api, fast, slow, n: int) -> None:
    subscribe(api, slow.url)
    subscribe(api, fast.url)
    for i in range(n):
        assert api.post(ticket(externalId=f"app-{i}")).status_code == 201
    outbox_dispatch(fanouts=[tmf_fanout])


def _to(receiver: Receiver) -> list[Notification]:
    return list(Notification.objects.filter(address=receiver.url).order_by("id"))


def test_a_sleeping_subscriber_holds_up_only_its_own_lane(api, receivers):
    fast, slow = receivers
    _queue(api, fast, slow, 5)
    sms = list(Notification.objects.filter(transport=Transport.SMS))
    assert (len(sms), len(_to(fast)), len(_to(slow))) == (5, 5, 5)

    started = time.monotonic()
    attempted = notifications_deliver()
    elapsed = time.monotonic() - started

    # the slow lane sent while its 2 s budget lasted (1 s each: 2, maybe 3), the rest went back
    slow_sent = [n for n in _to(slow) if n.status == DeliveryStatus.SENT]
    assert 2 <= len(slow_sent) <= 3
    assert len(slow.received) == len(slow_sent)
    assert attempted == 10 + len(slow_sent)
    assert elapsed < 4.5, elapsed  # inline, one after the other, this took 5 s and more
    assert {n.status for n in Notification.objects.filter(transport=Transport.SMS)} == {DeliveryStatus.SENT}
    assert {n.status for n in _to(fast)} == {DeliveryStatus.SENT}
    assert len(fast.received) == 5
    now = timezone.now()
    for n in _to(slow)[len(slow_sent) :]:
        # handed back: as if never claimed (no attempt, due now), not leased for 5 minutes
        assert (n.status, n.attempts) == (DeliveryStatus.PENDING, 0)
        assert n.next_attempt_at <= now
        assert not DeliveryAttempt.objects.filter(notification=n).exists()
    # the next round sends them
    slow.delay = 0
    notifications_deliver()
    assert {n.status for n in _to(slow)} == {DeliveryStatus.SENT}
    assert len(slow.received) == 5


def test_a_stopping_worker_hands_back_what_it_has_not_sent(api, receivers):
    fast, slow = receivers
    _queue(api, fast, slow, 3)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()  # SIGTERM while the slow lane is on its first delivery
    started = time.monotonic()
    notifications_deliver(stop=stop)
    assert time.monotonic() - started < 2.5
    assert len(slow.received) == 1  # the delivery under way finished and was recorded
    first, *rest = _to(slow)
    assert (first.status, first.attempts) == (DeliveryStatus.SENT, 1)
    now = timezone.now()
    for n in rest:
        assert (n.status, n.attempts, n.next_attempt_at <= now) == (DeliveryStatus.PENDING, 0, True)
    assert not DeliveryAttempt.objects.filter(outcome="in_flight").exists()
