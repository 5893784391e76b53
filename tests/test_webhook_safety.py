"""Hub deliveries are signed the Standard Webhooks way (replay-safe: the timestamp is signed) and go
to the address that was checked (no DNS-rebinding window). A real loopback receiver checks them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from typing import Any

import pytest

from tests.test_api import ticket
from tests.test_api_hub import Receiver, run_outbox, subscribe, webhooks
from tests.test_api_hub import api as api
from tousu.notifications.models import DeliveryStatus

pytestmark = pytest.mark.django_db

TOLERANCE = 300  # seconds: what a receiver accepts as fresh


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> bool:
    """A receiver's check, written from the Standard Webhooks specification (not from our code)."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE:
        return False  # a replay of an old delivery
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    for signature in headers["webhook-signature"].split(" "):
        version, _comma, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def names(monkeypatch):
    """``hooks.example.test`` answers what the test sets in ``answers`` (one per lookup, the last
    repeated); every lookup is recorded. Connections to 93.184.216.34 (not reachable from a test)
    are recorded and refused."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.create_connection
    state: dict[str, Any] = {"answers": [], "lookups": 0, "connected": []}

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "hooks.example.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        answers = state["answers"]
        address = answers[min(state["lookups"], len(answers) - 1)]
        state["lookups"] += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]

    def create_connection(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        state["connected"].append(address)
        if address[0] == "93.184.216.34":
            raise ConnectionRefusedError("test: the public address is not reachable")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return state


def test_deliveries_carry_a_signed_timestamp_a_receiver_can_verify(api, receiver, settings):
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = True
    sub = subscribe(api, receiver.url)
    receiver.statuses = [500]  # the first attempt fails: the retry carries the same id
    api.post(ticket())
    run_outbox()
    [note] = webhooks()
    note.next_attempt_at = note.created_at
    note.save(update_fields=["next_attempt_at"])
    run_outbox()
    assert [n.status for n in webhooks()] == [DeliveryStatus.SENT]
    first, second = receiver.received
    for delivery in (first, second):
        headers = {k.lower(): v for k, v in delivery["headers"].items()}
        assert headers["webhook-id"] == note.key
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        assert verify(sub["secret"], headers, delivery["body"])
        # the same delivery replayed later, or with its body changed, or signed with another secret
        assert not verify(sub["secret"], headers, delivery["body"], now=time.time() + TOLERANCE + 1)
        assert not verify(sub["secret"], headers, delivery["body"] + b" ")
        assert not verify("another secret", headers, delivery["body"])
        # a recorded signature does not fit a fresh timestamp: the timestamp is signed
        forged = {**headers, "webhook-timestamp": str(int(time.time()) + 5)}
        assert not verify(sub["secret"], forged, delivery["body"])
        # the older header stays for receivers written before
        legacy = "sha256=" + hmac.new(sub["secret"].encode(), delivery["body"], hashlib.sha256).hexdigest()
        assert headers["x-tousu-signature"] == legacy


def test_the_connection_goes_to_the_checked_address_not_a_rebound_one(api, receiver, names, settings):
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = False
    settings.TOUSU_WEBHOOK_TIMEOUT = 2
    port = receiver.server.server_address[1]
    names["answers"] = ["93.184.216.34", "127.0.0.1"]  # public when checked, loopback afterwards
    subscribe(api, f"http://hooks.example.test:{port}/listener")
    api.post(ticket())
    run_outbox()
    [note] = webhooks()
    assert receiver.received == []  # never reached the loopback receiver
    assert names["lookups"] == 1
    assert names["connected"] == [("93.184.216.34", port)]
    assert (note.status, note.attempts) == (DeliveryStatus.PENDING, 1)
    assert "not reachable" in note.last_error


def test_the_host_header_names_the_callback_host(api, receiver, names, settings):
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = True
    port = receiver.server.server_address[1]
    names["answers"] = ["127.0.0.1"]
    subscribe(api, f"http://hooks.example.test:{port}/listener?x=1")
    api.post(ticket())
    run_outbox()
    [delivery] = receiver.received
    assert delivery["headers"]["Host"] == f"hooks.example.test:{port}"
    assert names["connected"] == [("127.0.0.1", port)]
    assert [n.status for n in webhooks()] == [DeliveryStatus.SENT]
