"""The TMF621 API: create, read, list, patch, delete; keys, scopes and rate limits; bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from django.utils import timezone

from tousu.api.keys import apikey_create, apikey_revoke
from tousu.api.models import ApiKey
from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

URL = "/tmf-api/troubleTicket/v4/troubleTicket"
SPEC = Path("/work/shared/tmf/TMF621-TroubleTicket-v4.0.0.swagger.json")
for _parent in Path(__file__).resolve().parents:
    if (_parent / "shared" / "tmf").is_dir():
        SPEC = _parent / "shared" / "tmf" / "TMF621-TroubleTicket-v4.0.0.swagger.json"
        break


def _validator(definition: str) -> jsonschema.Validator:
    spec = json.loads(SPEC.read_text())
    return jsonschema.Draft4Validator(
        {"$ref": f"#/definitions/{definition}", "definitions": spec["definitions"]}
    )


def assert_tmf(body: Any, definition: str = "TroubleTicket") -> None:
    """The body conforms to the TMF621 v4 definition (the swagger in shared/tmf); a missing
    specification fails the test rather than skipping the check."""
    assert SPEC.exists(), f"the TMF621 specification must be at {SPEC} (../shared/tmf beside the checkout)"
    _validator(definition).validate(body)


def test_the_tmf621_specification_is_found():
    assert SPEC.exists(), f"the TMF621 specification must be at {SPEC}"
    assert "TroubleTicket" in json.loads(SPEC.read_text())["definitions"]


class Api:
    """A client holding one key."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT_LANGUAGE": "en"}

    def get(self, path: str = "", **params: Any) -> Any:
        return self.client.get(URL + path, params, **self.headers)

    def post(self, body: Any, *, content_type: str = "application/json", url: str = URL) -> Any:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(url, data, content_type=content_type, **self.headers)

    def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json") -> Any:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.patch(URL + path, data, content_type=content_type, **self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(URL + path, **self.headers)


def ticket(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "App 用户反映本月流量包被重复扣费 20 元。",
        "severity": "dissatisfied",
        "ticketType": "billing-wrong-charge",
        "externalId": "app-0001",
        "relatedParty": [{"role": "customer", "name": "李四", "phone": "13900001111"}],
        "tousu": {"businessType": "data", "demand": "退还20元", "serviceNumber": "13900001111"},
    }
    body.update(overrides)
    return body


@pytest.fixture(autouse=True)
def _fresh_limits():
    ratelimit_reset()
    yield
    ratelimit_reset()


@pytest.fixture
def keys(org) -> dict[str, str]:
    tokens = {}
    for name, channel, scope, all_channels in [
        ("app", "app", "write", False),
        ("wechat", "wechat", "write", False),
        ("reader", "app", "read", False),
        ("regulator", "regulator", "write", False),
        ("ops", "web", "admin", True),
    ]:
        _key, tokens[name] = apikey_create(name=name, channel=channel, scope=scope, all_channels=all_channels)
    return tokens


@pytest.fixture
def app(client, keys) -> Api:
    return Api(client, keys["app"])


def test_create_registers_accepts_and_answers_the_ticket(app):
    response = app.post(ticket())
    assert response.status_code == 201
    body = response.json()
    case = Complaint.objects.get()
    day = timezone.localdate(case.registered_at)
    assert case.ticket_no == f"TS{day:%Y%m%d}000001"
    assert response["Location"] == f"{URL}/{case.ticket_no}"
    assert (case.status, case.channel, case.external_id, case.level, case.business_type) == (
        Status.ACCEPTED,
        "app",
        "app-0001",
        "dissatisfied",
        "data",
    )
    assert (case.customer.phone, case.customer.name, case.demand) == ("+8613900001111", "李四", "退还20元")
    assert body["id"] == case.ticket_no
    assert body["href"] == f"{URL}/{case.ticket_no}"
    assert body["status"] == "acknowledged"
    assert body["severity"] == "dissatisfied"
    assert body["ticketType"] == "billing-wrong-charge"
    assert body["externalId"] == "app-0001"
    assert body["channel"] == {"id": "app", "name": "app", "@referredType": "Channel"}
    assert body["relatedParty"] == [
        {
            "id": str(case.customer_id),
            "role": "customer",
            "@referredType": "Individual",
            "name": "李*",
            "phone": "139****1111",
        }
    ]
    assert body["note"] == []
    assert body["tousu"]["status"] == "accepted"
    assert body["tousu"]["ticketNumber"] == case.ticket_no
    assert body["tousu"]["serviceNumber"] == case.masked_service_number
    assert body["@type"] == "TousuComplaint"
    assert body["@baseType"] == "TroubleTicket"
    assert_tmf(body)
    # The events record the system as actor and the key as the way in.
    events = list(ComplaintEvent.objects.filter(complaint=case).values_list("kind", "actor", "payload__via"))
    assert events[0] == (EventKind.REGISTERED, None, "api:app")
    assert (EventKind.ACCEPTED, None, None) in events


def test_create_with_a_known_external_id_returns_the_same_case(app, keys, client):
    first = app.post(ticket())
    again = app.post(ticket(description="重发的同一条"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["description"] == ticket()["description"]
    assert Complaint.objects.count() == 1
    # Another channel may use the same external id for its own message.
    other = Api(client, keys["wechat"]).post(ticket())
    assert other.status_code == 201
    assert Complaint.objects.count() == 2


def test_regulator_key_files_referrals_on_the_regulator_channel_with_its_clocks(client, keys):
    sla_bootstrap()
    response = Api(client, keys["regulator"]).post(ticket(externalId="MIIT-2026-0042"))
    assert response.status_code == 201
    case = Complaint.objects.get()
    assert case.channel == "regulator"
    clocks = {c["kind"]: c for c in response.json()["tousu"]["slaClocks"]}
    assert clocks["regulator_accept"]["state"] == "met"  # accepted at once
    assert clocks["regulator_answer"]["state"] == "running"
    answer = case.clocks.get(kind="regulator_answer")
    assert answer.policy.match_channels == ["regulator"]
    assert answer.target_minutes == 30 * 24 * 60
    assert response.json()["expectedResolutionDate"] == clocks["regulator_answer"]["dueAt"]
    assert_tmf(response.json())


def test_retrieve_with_fields_and_by_database_id_before_acceptance(app, cases, keys, client):
    created = app.post(ticket()).json()
    response = app.get(f"/{created['id']}", fields="status,severity")
    assert response.status_code == 200
    assert response.json() == {"status": "acknowledged", "severity": "dissatisfied"}
    registered = cases.make(Status.REGISTERED, channel="app")
    by_pk = app.get(f"/{registered.pk}")
    assert by_pk.status_code == 200
    assert by_pk.json()["id"] == str(registered.pk)
    assert "ticketNumber" not in by_pk.json()["tousu"]
    assert_tmf(by_pk.json())


def test_a_channel_key_sees_only_its_channel(app, cases, keys, client):
    hotline = cases.make(Status.ACCEPTED)  # channel hotline
    response = app.get(f"/{hotline.ticket_no}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert app.get().json() == []
    everything = Api(client, keys["ops"]).get()
    assert [t["id"] for t in everything.json()] == [hotline.ticket_no]


def test_list_filters_sorts_pages_and_counts(app):
    for n, severity in enumerate(["dissatisfied", "major", "dissatisfied"]):
        assert app.post(ticket(externalId=f"x{n}", severity=severity)).status_code == 201
    ids = list(Complaint.objects.order_by("registered_at", "id").values_list("ticket_no", flat=True))
    Complaint.objects.filter(ticket_no=ids[0]).update(registered_at=timezone.now() - timedelta(days=3))

    response = app.get(severity="dissatisfied", sort="creationDate")
    assert response.status_code == 200
    assert [t["id"] for t in response.json()] == [ids[0], ids[2]]
    assert (response["X-Total-Count"], response["X-Result-Count"]) == ("2", "2")

    page = app.get(sort="-creationDate", offset=1, limit=1, fields="id")
    assert page.json() == [{"id": ids[1]}]
    assert (page["X-Total-Count"], page["X-Result-Count"]) == ("3", "1")

    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = app.get(**{"creationDate.gt": since, "sort": "creationDate"})
    assert [t["id"] for t in recent.json()] == [ids[1], ids[2]]
    older = app.get(**{"creationDate.lte": since})
    assert [t["id"] for t in older.json()] == [ids[0]]
    assert [t["id"] for t in app.get(status="acknowledged,inProgress", sort="id").json()] == ids
    assert app.get(status="closed").json() == []
    assert app.get(status="open").json() == []  # a value nothing has: an empty list, not a 400
    for body in app.get().json():
        assert_tmf(body)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"creationDate.gt": "yesterday"}, "creationDate.gt"),
        ({"creationDate.gt": "2026-03-01T08:00:00"}, "creationDate.gt"),
        ({"severity.gt": "major"}, "severity.gt"),
        ({"creationDate.near": "2026-03-01T08:00:00Z"}, "creationDate.near"),
        ({"sort": "-colour"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_list_refuses_bad_filters_with_a_tmf_error(app, params, field):
    response = app.get(**params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["status"] == "400"
    assert field in body["fields"]
    assert_tmf(body, "Error")


def test_patch_moves_the_status_through_the_services(app):
    tid = app.post(ticket()).json()["id"]
    response = app.patch(f"/{tid}", {"status": "inProgress", "statusChangeReason": "开始核查"})
    assert response.status_code == 200
    assert response.json()["status"] == "inProgress"
    assert response.json()["tousu"]["status"] == "investigating"
    event = ComplaintEvent.objects.filter(kind=EventKind.STATUS_CHANGED).get()
    # No staff user, but the key that did it, by name, and where it came from.
    assert (event.from_status, event.to_status, event.payload, event.actor, event.actor_label, event.via) == (
        "accepted",
        "investigating",
        {"note": "开始核查"},
        None,
        "app",
        "api:app",
    )
    assert set(ComplaintEvent.objects.values_list("via", "actor_label")) == {("api:app", "app")}
    pending = app.patch(f"/{tid}", {"status": "pending", "statusChangeReason": "请提供账单截图"})
    assert pending.json()["tousu"]["status"] == "awaiting_customer"
    assert_tmf(pending.json())


def test_a_status_the_key_may_not_set_now_is_refused_naming_those_it_may(app, unchanged):
    tid = app.post(ticket()).json()["id"]
    with unchanged():
        response = app.patch(f"/{tid}", {"status": "resolved", "statusChangeReason": "已解决"})
    assert response.status_code == 409
    assert response.json()["message"] == (
        "This API key cannot set status 'resolved' on this ticket now; possible now: cancelled, inProgress."
    )


def test_patch_severity_changes_the_level_and_escalates(app):
    tid = app.post(ticket()).json()["id"]
    response = app.patch(f"/{tid}", {"severity": "major", "statusChangeReason": "用户威胁投诉至工信部"})
    assert response.status_code == 200
    case = Complaint.objects.get()
    assert case.level == "major"
    assert ComplaintEvent.objects.get(kind=EventKind.LEVEL_CHANGED).payload == {
        "from": "dissatisfied",
        "to": "major",
        "reason": "用户威胁投诉至工信部",
    }


def test_an_illegal_status_change_is_a_409_and_changes_nothing(app, unchanged):
    tid = app.post(ticket()).json()["id"]
    with unchanged():
        response = app.patch(f"/{tid}", {"status": "closed", "statusChangeReason": "x", "severity": "major"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert body["reason"] == "Conflict"
    assert body["status"] == "409"
    assert body["message"] == "A 'Accepted' case cannot become 'Closed'."
    assert_tmf(body, "Error")


@pytest.mark.parametrize(
    ("patch", "status", "field"),
    [
        ({"description": ""}, 400, "description"),
        ({"id": "TS1"}, 400, "id"),
        ({"status": "open"}, 400, "status"),
        ({"severity": 3}, 400, "severity"),
        ({"status": None}, 200, None),
        ({"status": "cancelled"}, 400, "reason"),  # a withdrawal needs its reason
    ],
)
def test_patch_refuses_unknown_and_unpatchable_fields(app, unchanged, patch, status, field):
    tid = app.post(ticket()).json()["id"]
    with unchanged():
        response = app.patch(f"/{tid}", patch)
    assert response.status_code == status
    if field:
        assert field in response.json()["fields"]


def test_delete_withdraws_an_untouched_case_for_admin_keys_only(app, client, keys, cases, unchanged):
    tid = app.post(ticket()).json()["id"]
    with unchanged():
        refused = app.delete(f"/{tid}")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    ops = Api(client, keys["ops"])
    assert ops.delete(f"/{tid}").status_code == 204
    case = Complaint.objects.get(ticket_no=tid)
    assert case.status == Status.WITHDRAWN
    assert ComplaintEvent.objects.get(kind=EventKind.WITHDRAWN).payload == {
        "reason": "Deleted through the API (ops).",
        "via": "api:ops",
    }
    assert ops.get(f"/{tid}").json()["status"] == "cancelled"  # the record stays
    assert ops.delete(f"/{tid}").status_code == 204  # deleting again changes nothing
    handled = cases.make(Status.INVESTIGATING)
    with unchanged():
        busy = ops.delete(f"/{handled.ticket_no}")
    assert busy.status_code == 409
    assert busy.json()["code"] == "invalid_transition"


# --- keys --------------------------------------------------------------------------------------


def test_requests_without_a_valid_key_are_401(client, keys):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer tsk_nope_nope"}, {"HTTP_AUTHORIZATION": "Basic eDp5"}):
        response = client.get(URL, **headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
        assert response["WWW-Authenticate"] == "Bearer"
    assert client.get(URL, HTTP_X_API_KEY=keys["app"]).status_code == 200
    apikey_revoke(name_or_prefix="app")
    assert client.get(URL, HTTP_X_API_KEY=keys["app"]).status_code == 401


def test_a_read_key_cannot_write(client, keys, unchanged):
    reader = Api(client, keys["reader"])
    with unchanged():
        response = reader.post(ticket())
    assert response.status_code == 403
    assert response.json()["message"] == "This API key may only read."
    assert reader.get().status_code == 200


def test_keys_are_stored_hashed_and_shown_once(db):
    key, token = apikey_create(name="crm", channel="web", scope="write")
    assert token.startswith(f"tsk_{key.prefix}_")
    assert len(token) > 40
    stored = ApiKey.objects.get(pk=key.pk)
    assert token not in json.dumps(list(ApiKey.objects.values()), default=str)
    assert len(stored.key_hash) == 64


def test_rate_limit_per_key_answers_429_with_retry_after(client, keys):
    ApiKey.objects.filter(name="app").update(rate_limit=2)
    api = Api(client, keys["app"])
    assert [api.get().status_code for _ in range(2)] == [200, 200]
    response = api.get()
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "tooManyRequests"
    assert Api(client, keys["wechat"]).get().status_code == 200  # another key counts apart


def test_apikey_command_creates_lists_and_revokes(capsys, db):
    call_command("apikey", "create", "--name", "ivr", "--channel", "hotline", "--scope", "write")
    out = capsys.readouterr()
    token = out.out.strip()
    key = ApiKey.objects.get(name="ivr")
    assert token.startswith(f"tsk_{key.prefix}_")
    assert "shown once" in out.err
    call_command("apikey", "list")
    listed = capsys.readouterr().out
    assert listed.startswith(f"{key.prefix}  ivr  hotline  write  active")
    assert token not in listed
    call_command("apikey", "revoke", "ivr")
    assert capsys.readouterr().out.strip() == f"Revoked 'ivr' ({key.prefix})."
    assert ApiKey.objects.get(name="ivr").is_active is False


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "invalidBody"),
        (b'{"description": "\xff\xfe"}', "application/json", 400, "invalidBody"),
        ('["a list"]', "application/json", 400, "invalidBody"),
        ("description=x", "application/x-www-form-urlencoded", 415, "unsupportedMediaType"),
        ('{"description": "x"}', "text/plain", 415, "unsupportedMediaType"),
        ('{"description": "x"}', "application/json; charset=latin-1", 415, "unsupportedMediaType"),
        (json.dumps(ticket(description=42)), "application/json", 400, "invalid"),
        (json.dumps(ticket(description="")), "application/json", 400, "invalid"),
        (json.dumps(ticket(colour="red")), "application/json", 400, "invalid"),
        (json.dumps(ticket(relatedParty=[{"phone": "12"}])), "application/json", 400, "invalid"),
        (json.dumps(ticket(creationDate="2099-01-01T00:00:00Z")), "application/json", 400, "invalid"),
        (json.dumps({"x": "y" * 300_000}), "application/json", 413, "payloadTooLarge"),
        (json.dumps(ticket(description="长" * 5_001)), "application/json", 400, "invalid"),
    ],
)
def test_bad_bodies_get_a_tmf_error_and_write_nothing(app, unchanged, body, content_type, status, code):
    with unchanged():
        response = app.post(body, content_type=content_type)
    assert response.status_code == status
    payload = response.json()
    assert (payload["code"], payload["status"]) == (code, str(status))
    assert payload["message"]
    assert_tmf(payload, "Error")


def test_sql_and_html_are_stored_verbatim(app):
    text = "'; DROP TABLE complaints_complaint; -- <script>alert(1)</script>"
    response = app.post(ticket(description=text, externalId="<b>x</b>"))
    assert response.status_code == 201
    assert response.json()["description"] == text
    assert response["Content-Type"] == "application/json"
    assert Complaint.objects.get().description == text
    assert Complaint.objects.get().external_id == "<b>x</b>"


def test_openapi_document_is_served_and_the_docs_work_offline(client, db):
    response = client.get("/tmf-api/troubleTicket/v4/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert set(doc["paths"]) == {
        "/tmf-api/troubleTicket/v4/troubleTicket",
        "/tmf-api/troubleTicket/v4/troubleTicket/{id}",
        "/tmf-api/troubleTicket/v4/hub",
        "/tmf-api/troubleTicket/v4/hub/{id}",
    }
    assert doc["components"]["schemas"]["TroubleTicketCreate"]["required"] == [
        "description",
        "severity",
        "ticketType",
    ]
    docs = client.get("/tmf-api/troubleTicket/v4/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_admin_creates_a_key_showing_it_once_and_never_again(client, people):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    response = client.post(
        "/admin/api/apikey/add/",
        {"name": "ivr", "channel": "hotline", "scope": "write", "rate_limit": ""},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="ivr")
    [message] = [str(m) for m in response.context["messages"] if "tsk_" in str(m)]
    token = message.rsplit(" ", 1)[1]
    assert token.startswith(f"tsk_{key.prefix}_")
    assert Api(client, token).get().status_code == 200
    page = client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert token not in page
    assert key.key_hash not in page
    listing = client.get("/admin/api/apikey/").content.decode()
    assert key.prefix in listing
    assert token not in listing


@pytest.mark.parametrize("ident", ["³", "١٢", "0" * 30, "TS' OR 1=1 --", "%E2%80%AE"])
def test_odd_ids_are_not_found_not_errors(app, ident):
    for response in (app.get(f"/{ident}"), app.patch(f"/{ident}", {}), app.delete(f"/{ident}")):
        assert response.status_code in (403, 404)
        assert response.json()["code"] in ("not_found", "forbidden")
    assert app.get(id=ident).status_code == 200
    hub = app.client.delete(f"/tmf-api/troubleTicket/v4/hub/{ident}", **app.headers)
    assert hub.status_code == 404


def test_nul_characters_are_refused_everywhere(app, unchanged):
    with unchanged():
        responses = [
            app.post(ticket(description="退费\u0000")),
            app.post(ticket(relatedParty=[{"phone": "13900001111", "name": "a\u0000"}])),
            app.get("/%00"),
            app.get(ticketType="a\x00"),
        ]
    for response in responses:
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert response.json()["message"] == "Text must not contain NUL characters."


def test_dates_with_far_offsets_are_compared_in_utc(app):
    app.post(ticket())
    assert app.get(**{"creationDate.gt": "2000-01-01T00:00:00-20:42"}).json()[0]["severity"] == "dissatisfied"
    assert app.get(**{"creationDate.gt": "9999-12-31T23:59:59-20:00"}).status_code == 400
    far = app.post(ticket(externalId="far", creationDate="2026-01-01T00:00:00+18:30"))
    assert far.status_code == 201


@pytest.mark.parametrize(
    "overrides",
    [{}, {"severity": "crisis"}, {"ticketType": "network-outage"}],
    ids=["plain", "escalated", "outage"],
)
def test_a_new_ticket_is_answered_exactly_as_it_reads_back(app, time_machine, overrides):
    """The create answer is rendered from what the service wrote, without reading it back; it must
    be the very resource a retrieve returns at the same moment."""
    sla_bootstrap()  # the default time limits, with their calendars
    time_machine.move_to(timezone.now(), tick=False)
    created = app.post(ticket(**overrides))
    assert created.status_code == 201
    body = created.json()
    assert body["tousu"]["slaClocks"]  # clocks were started, and shown
    assert app.get("/" + body["id"]).json() == body


def test_api_reads_of_cases_are_audited_like_page_reads(app, cases, client):
    from tousu.audit.models import AuditEvent, AuditKind

    mine = cases.make(Status.ACCEPTED, channel="app")
    other = cases.make(Status.ACCEPTED, channel="app", phone="13900000099")
    hidden = cases.make(Status.ACCEPTED)  # hotline: not this key's channel
    AuditEvent.objects.all().delete()

    def reads() -> list[tuple[str, str, str, int | None, str]]:
        return sorted(
            AuditEvent.objects.filter(kind=AuditKind.PERSONAL_DATA_READ).values_list(
                "actor_label", "via", "object_id", "complaint_id", "ip"
            )
        )

    assert app.get(f"/{mine.ticket_no}").status_code == 200
    assert reads() == [("api:app", "api:app", str(mine.customer_id), mine.pk, "127.0.0.1")]

    AuditEvent.objects.all().delete()
    listed = app.get("", limit="10")
    assert listed.status_code == 200
    assert reads() == sorted(
        ("api:app", "api:app", str(c.customer_id), c.pk, "127.0.0.1") for c in (mine, other)
    )

    AuditEvent.objects.all().delete()
    assert app.get(f"/{hidden.ticket_no}").status_code == 404  # not this key's: nothing read
    assert reads() == []
