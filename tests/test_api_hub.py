"""The TMF621 event hub: subscriptions, the fan-out of case events and signed webhook deliveries
to a real HTTP receiver on loopback (including failures, retries and a callback that hangs)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest
from django.utils import timezone

from tests.test_api import Api, assert_tmf, ticket
from tousu.api.hub import tmf_fanout
from tousu.api.keys import apikey_create
from tousu.api.models import HubSubscription
from tousu.common.origin import Origin
from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint
from tousu.complaints.states import Status
from tousu.notifications.models import DeliveryStatus, Notification, Transport, WebhookEndpoint
from tousu.notifications.services import notifications_deliver, outbox_dispatch
from tousu.notifications.transports import DeliveryError

HUB = "/tmf-api/troubleTicket/v4/hub"
HUB_V5 = "/tmf-api/troubleTicket/v5/hub"


class Receiver:
    """A loopback HTTP server that records what it receives and answers with the queued statuses
    (then 201), or sleeps first when ``delay`` is set."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 201
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/listener"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _loopback_callbacks(settings):
    """The receivers of these tests listen on 127.0.0.1, which production refuses by default."""
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = True


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def api(client, org) -> Api:
    ratelimit_reset()
    _key, token = apikey_create(name="crm", channel="app", scope="write")
    return Api(client, token)


def subscribe(api: Api, callback: str, query: str | None = None, *, hub: str = HUB) -> dict[str, Any]:
    body: dict[str, Any] = {"callback": callback}
    if query is not None:
        body["query"] = query
    response = api.post(body, url=hub)
    assert response.status_code == 201, response.content
    return response.json()


def run_outbox() -> int:
    outbox_dispatch(fanouts=[tmf_fanout])
    return notifications_deliver()


def webhooks() -> list[Notification]:
    return list(Notification.objects.filter(transport=Transport.WEBHOOK).order_by("id"))


def test_subscribe_and_unsubscribe(api):
    sub = subscribe(api, "http://127.0.0.1:9/cb", "eventType=TroubleTicketCreateEvent")
    row = HubSubscription.objects.get()
    assert sub["id"] == str(row.pk)
    assert sub["callback"] == "http://127.0.0.1:9/cb"
    assert sub["query"] == "eventType=TroubleTicketCreateEvent"
    assert sub["secret"] == row.endpoint.secret
    assert len(sub["secret"]) == 64
    assert_tmf({k: v for k, v in sub.items() if k != "secret"}, "EventSubscription")
    response = api.client.delete(f"{HUB}/{sub['id']}", **api.headers)
    assert response.status_code == 204
    row.refresh_from_db()
    row.endpoint.refresh_from_db()
    assert (HubSubscription.objects.count(), WebhookEndpoint.objects.count()) == (1, 1)  # kept, ended
    assert (row.deactivated_at is not None, row.endpoint.is_active) == (True, False)
    assert api.client.delete(f"{HUB}/{sub['id']}", **api.headers).status_code == 404


def test_unsubscribing_keeps_every_delivery_and_attempt_and_sends_nothing_new(api, receiver):
    from tousu.api.services import UNSUBSCRIBED
    from tousu.notifications.models import DeliveryAttempt

    sub = subscribe(api, receiver.url)
    assert api.post(ticket(externalId="app-h1")).status_code == 201
    run_outbox()
    assert len(receiver.received) == 1
    receiver.statuses = [503]
    assert api.post(ticket(externalId="app-h2")).status_code == 201
    run_outbox()  # the second delivery failed once: pending, to be retried
    before = [(n.pk, n.status) for n in webhooks()]
    assert [status for _pk, status in before] == [DeliveryStatus.SENT, DeliveryStatus.PENDING]
    attempts = list(
        DeliveryAttempt.objects.filter(transport=Transport.WEBHOOK)
        .order_by("id")
        .values_list("notification_id", "number", "outcome")
    )
    assert len(attempts) == 2

    assert api.client.delete(f"{HUB}/{sub['id']}", **api.headers).status_code == 204
    after = webhooks()
    assert [(n.pk, n.status) for n in after] == [
        (before[0][0], DeliveryStatus.SENT),
        (before[1][0], DeliveryStatus.FAILED),
    ]
    assert after[1].last_error == UNSUBSCRIBED
    assert (
        list(
            DeliveryAttempt.objects.filter(transport=Transport.WEBHOOK)
            .order_by("id")
            .values_list("notification_id", "number", "outcome")
        )
        == attempts
    )
    # a new case event asks for no delivery to the ended subscription, and nothing more is sent
    assert api.post(ticket(externalId="app-h3")).status_code == 201
    Notification.objects.filter(transport=Transport.WEBHOOK).update(next_attempt_at=timezone.now())
    run_outbox()
    assert len(webhooks()) == 2
    assert len(receiver.received) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"callback": "ftp://example.org/x"}, "callback"),
        ({"callback": "javascript:alert(1)"}, "callback"),
        ({"callback": "http://127.0.0.1:9/", "query": "eventType=Nope"}, "query"),
        ({"callback": "http://127.0.0.1:9/", "query": "colour=red"}, "query"),
        ({}, "callback"),
    ],
)
def test_bad_subscriptions_are_refused(api, unchanged, body, field):
    with unchanged():
        response = api.post(body, url=HUB)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_case_events_reach_the_callback_signed(api, receiver, cases):
    sub = subscribe(api, receiver.url)
    created = api.post(ticket()).json()
    tid = created["id"]
    api.patch(f"/{tid}", {"status": "inProgress", "statusChangeReason": "核查中"})
    api.patch(f"/{tid}", {"severity": "major", "statusChangeReason": "升级"})
    api.patch(f"/{tid}", {"status": "pending", "statusChangeReason": "请提供截图"})
    assert receiver.received == []  # nothing is sent from the request itself
    cases.make(Status.ACCEPTED)  # a hotline case: not this key's channel, not delivered

    run_outbox()
    types = [json.loads(r["body"])["eventType"] for r in receiver.received]
    assert types == [
        "TroubleTicketCreateEvent",
        "TroubleTicketStatusChangeEvent",
        "TroubleTicketAttributeValueChangeEvent",
        "TroubleTicketInformationRequiredEvent",
    ]
    first = receiver.received[0]
    assert first["headers"]["Content-Type"] == "application/json"
    expected = "sha256=" + hmac.new(sub["secret"].encode(), first["body"], hashlib.sha256).hexdigest()
    assert first["headers"]["X-Tousu-Signature"] == expected
    event = json.loads(first["body"])
    assert event["event"]["troubleTicket"]["id"] == tid
    assert set(event) == {"eventId", "eventTime", "eventType", "event"}
    assert_tmf(event, "TroubleTicketCreateEvent")
    assert [n.status for n in webhooks()] == [DeliveryStatus.SENT] * 4
    run_outbox()
    assert len(receiver.received) == 4  # exactly once


def test_resolved_event_after_the_reply(api, receiver, cases):
    subscribe(api, receiver.url, "eventType=TroubleTicketResolvedEvent")
    case = cases.make(Status.PLAN_PROPOSED, channel="app")
    run_outbox()
    assert receiver.received == []
    svc.complaint_reply(
        actor=None, complaint_id=case.pk, channel="sms", content="已退费", origin=Origin(via="api:crm")
    )
    run_outbox()
    [delivery] = receiver.received
    event = json.loads(delivery["body"])
    assert event["eventType"] == "TroubleTicketResolvedEvent"
    assert event["event"]["troubleTicket"]["status"] == "resolved"
    assert event["event"]["troubleTicket"]["note"][0]["text"] == "已退费"
    assert_tmf(event, "TroubleTicketResolvedEvent")


def test_query_filters_on_ticket_attributes(api, receiver):
    subscribe(api, receiver.url, "event.troubleTicket.severity=crisis,major")
    api.post(ticket(externalId="a", severity="dissatisfied"))
    api.post(ticket(externalId="b", severity="crisis"))
    run_outbox()
    assert [json.loads(r["body"])["event"]["troubleTicket"]["severity"] for r in receiver.received] == [
        "crisis"
    ]


def test_a_failing_callback_is_retried_with_backoff(api, receiver, settings):
    subscribe(api, receiver.url)
    receiver.statuses = [500, 503]
    api.post(ticket())
    run_outbox()
    [note] = webhooks()
    assert (note.status, note.attempts, note.last_error) == (
        DeliveryStatus.PENDING,
        1,
        f"HTTP 500 from {receiver.url}",
    )
    assert note.next_attempt_at > timezone.now() + timedelta(seconds=25)
    assert notifications_deliver() == 0  # not due yet
    Notification.objects.filter(pk=note.pk).update(next_attempt_at=timezone.now())
    notifications_deliver()
    note.refresh_from_db()
    assert (note.status, note.attempts) == (DeliveryStatus.PENDING, 2)
    Notification.objects.filter(pk=note.pk).update(next_attempt_at=timezone.now())
    notifications_deliver()
    note.refresh_from_db()
    assert (note.status, note.attempts, note.last_error) == (DeliveryStatus.SENT, 3, "")
    assert len(receiver.received) == 3
    assert len({r["body"] for r in receiver.received}) == 1  # the same event each time


def test_a_hanging_callback_times_out_and_is_retried(api, receiver, settings):
    settings.TOUSU_WEBHOOK_TIMEOUT = 1
    subscribe(api, receiver.url)
    receiver.delay = 3
    response = api.post(ticket())
    assert response.status_code == 201  # the API does not wait for callbacks
    run_outbox()
    [note] = webhooks()
    assert (note.status, note.attempts) == (DeliveryStatus.PENDING, 1)
    assert "timed out" in note.last_error


def test_an_unreachable_callback_is_a_failed_attempt(api):
    subscribe(api, "http://127.0.0.1:9/nobody")
    api.post(ticket())
    run_outbox()
    [note] = webhooks()
    assert (note.status, note.attempts) == (DeliveryStatus.PENDING, 1)
    assert note.last_error.startswith("http://127.0.0.1:9/nobody: ")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "[::1]"])
def test_callbacks_to_non_public_addresses_are_refused_by_default(api, receiver, settings, host):
    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = False
    url = receiver.url.replace("127.0.0.1", host) if host == "127.0.0.1" else f"http://{host}:9/cb"
    subscribe(api, url)
    api.post(ticket())
    run_outbox()
    [note] = webhooks()
    assert (note.status, note.attempts) == (DeliveryStatus.PENDING, 1)
    assert note.last_error.startswith(f"{url}: ")
    assert "is a non-public address" in note.last_error
    assert note.last_error.endswith("set TOUSU_WEBHOOK_PRIVATE_ADDRESSES=true to allow such callbacks")
    assert receiver.received == []  # nothing was sent


def test_a_public_address_passes_the_check(settings):
    from tousu.notifications.webhook import resolve

    settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES = False
    assert resolve("https://93.184.216.34/hook").address == "93.184.216.34"  # a literal: no DNS needed
    with pytest.raises(DeliveryError, match="non-public"):
        resolve("http://[::ffff:192.168.1.5]/hook")


# --- each subscription in its own version's shapes (v5: its envelope, ticket and listener paths) ---

EVENT_TYPES_SEEN = [
    "TroubleTicketCreateEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketAttributeValueChangeEvent",
    "TroubleTicketInformationRequiredEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketResolvedEvent",
]


def test_v5_subscribers_get_v5_events_at_their_listeners_and_v4_subscribers_v4(api, cases, people):
    from tests.test_api_conformance import validator

    v4_receiver, v5_receiver = Receiver(), Receiver()
    try:
        sub4 = subscribe(api, v4_receiver.url)
        sub5 = subscribe(api, v5_receiver.url + "/?token=abc", hub=HUB_V5)
        assert sub5["@type"] == "Hub"
        assert list(HubSubscription.objects.order_by("id").values_list("version", flat=True)) == ["v4", "v5"]
        created = api.post(ticket(externalId="app-v5", name="Billing")).json()
        tid = created["id"]
        case = Complaint.objects.get(ticket_no=tid)
        assert (
            api.patch(f"/{tid}", {"status": "inProgress", "statusChangeReason": "核查中"}).status_code == 200
        )
        assert api.patch(f"/{tid}", {"severity": "major", "statusChangeReason": "升级"}).status_code == 200
        assert (
            api.patch(f"/{tid}", {"status": "pending", "statusChangeReason": "请提供截图"}).status_code == 200
        )
        supervisor = people["supervisor"]
        svc.complaint_transition(
            actor=supervisor, complaint_id=case.pk, to=Status.INVESTIGATING, note="已补充"
        )
        svc.complaint_propose_plan(
            actor=supervisor,
            complaint_id=case.pk,
            kind="immediate",
            measures="退还 VOD 费用",
            responsible_id=people["handler"].pk,
            deadline=timezone.now() + timedelta(days=1),
        )
        svc.complaint_reply(
            actor=None, complaint_id=case.pk, channel="sms", content="已退费", origin=Origin(via="api:crm")
        )
        run_outbox()

        # v5: the v5 envelope and ticket, each at {callback}/listener/{eventName}, query kept
        events5 = [json.loads(r["body"]) for r in v5_receiver.received]
        assert [e["eventType"] for e in events5] == EVENT_TYPES_SEEN
        assert [r["path"] for r in v5_receiver.received] == [
            "/listener/listener/" + t[0].lower() + t[1:] + "?token=abc" for t in EVENT_TYPES_SEEN
        ]
        for event in events5:
            validator("v5", event["eventType"]).validate(event)
            assert (event["@type"], event["@baseType"]) == (event["eventType"], "Event")
            assert set(event) == {"@type", "@baseType", "eventId", "eventTime", "eventType", "event"}
            drawn = event["event"]["troubleTicket"]
            assert (drawn["id"], drawn["@type"]) == (tid, "TroubleTicket")
            assert drawn["href"] == f"/tmf-api/troubleTicket/v5/troubleTicket/{tid}"
            assert drawn["externalIdentifier"] == [{"@type": "ExternalIdentifier", "id": "app-v5"}]
            assert "externalId" not in drawn
            assert drawn["relatedParty"][0]["@type"] == "RelatedPartyRefOrPartyRoleRef"
            assert drawn["relatedParty"][0]["partyOrPartyRole"]["@type"] == "PartyRef"
            assert drawn["channel"]["@type"] == "ChannelRef"
        # each delivery shows the ticket as it is when the outbox runs: here, answered
        last = events5[-1]["event"]["troubleTicket"]
        assert [(h["@type"], h["status"]) for h in last["statusChangeHistory"]] == [
            ("StatusChange", "acknowledged"),
            ("StatusChange", "inProgress"),
            ("StatusChange", "pending"),
            ("StatusChange", "inProgress"),
            ("StatusChange", "resolved"),
        ]
        assert last["statusChangeHistory"][-1]["statusChangeDate"] == last["statusChangeDate"]
        dates = [h["statusChangeDate"] for h in last["statusChangeHistory"]]
        assert dates == sorted(dates)
        expected = (
            "sha256="
            + hmac.new(sub5["secret"].encode(), v5_receiver.received[0]["body"], hashlib.sha256).hexdigest()
        )
        assert v5_receiver.received[0]["headers"]["X-Tousu-Signature"] == expected

        # v4: v4's envelope and ticket, at the callback itself
        events4 = [json.loads(r["body"]) for r in v4_receiver.received]
        assert [e["eventType"] for e in events4] == EVENT_TYPES_SEEN
        assert {r["path"] for r in v4_receiver.received} == {"/listener"}
        for event in events4:
            assert_tmf(event, event["eventType"])
            assert set(event) == {"eventId", "eventTime", "eventType", "event"}
            drawn = event["event"]["troubleTicket"]
            assert (drawn["@type"], drawn["externalId"]) == ("TousuComplaint", "app-v5")
            assert drawn["relatedParty"][0]["@referredType"] == "Individual"
            assert "partyOrPartyRole" not in drawn["relatedParty"][0]
            assert "externalIdentifier" not in drawn
        assert [e["eventId"] for e in events4] == [e["eventId"] for e in events5]  # the same events
        with pytest.raises(jsonschema.ValidationError, match="'@type' is a required property"):
            validator("v5", events4[0]["eventType"]).validate(events4[0])  # what v5 got before
        assert sub4["id"] != sub5["id"]
    finally:
        v4_receiver.close()
        v5_receiver.close()


def test_a_v5_query_filters_on_the_v5_ticket(api, receiver):
    subscribe(
        api,
        receiver.url,
        "eventType=TroubleTicketCreateEvent&event.troubleTicket.severity=crisis",
        hub=HUB_V5,
    )
    api.post(ticket(externalId="a", severity="dissatisfied"))
    api.post(ticket(externalId="b", severity="crisis"))
    run_outbox()
    [delivery] = receiver.received
    assert delivery["path"] == "/listener/listener/troubleTicketCreateEvent"
    event = json.loads(delivery["body"])
    assert event["event"]["troubleTicket"]["severity"] == "crisis"
    assert event["event"]["troubleTicket"]["externalIdentifier"][0]["id"] == "b"


def test_a_v5_callback_leaves_room_for_the_listener_paths(api, unchanged):
    from tousu.api.tmf import LISTENER_ROOM

    assert len("/listener/troubleTicketAttributeValueChangeEvent") == LISTENER_ROOM
    longest = "https://crm.example/" + "a" * (500 - LISTENER_ROOM - len("https://crm.example/"))
    with unchanged():
        response = api.post({"callback": longest + "a"}, url=HUB_V5)
    assert response.status_code == 400
    assert response.json()["fields"] == {"callback": "too long"}
    assert api.post({"callback": longest + "a"}, url=HUB).status_code == 201  # v4 appends nothing
    assert api.post({"callback": longest}, url=HUB_V5).status_code == 201


@pytest.mark.parametrize(
    ("callback", "url"),
    [
        ("https://crm.example", "https://crm.example/listener/troubleTicketCreateEvent"),
        ("https://crm.example/", "https://crm.example/listener/troubleTicketCreateEvent"),
        ("https://crm.example/tmf/hook/", "https://crm.example/tmf/hook/listener/troubleTicketCreateEvent"),
        ("https://crm.example/h?k=1#x", "https://crm.example/h/listener/troubleTicketCreateEvent?k=1#x"),
    ],
)
def test_v5_listener_urls(callback, url):
    from tousu.api import tmf_v4, tmf_v5

    assert tmf_v5.event_callback(callback, "TroubleTicketCreateEvent") == url
    assert tmf_v4.event_callback(callback, "TroubleTicketCreateEvent") == callback
