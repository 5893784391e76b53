"""TMF621 conformance, written from the specification (../shared/tmf): what a client that knows
only the standard sends, on v4 and v5 alike, every answer validated against that version's schema.
The schema checks fail (never skip) when the specification files are missing."""

from __future__ import annotations

import base64
import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.utils import timezone

from tests.test_api import Api
from tousu.api.keys import apikey_create
from tousu.api.models import SeverityMapping, TicketAttributes, TicketTypeMapping
from tousu.api.services import mappings_forget
from tousu.common.errors import InvalidTransition
from tousu.complaints import services as svc
from tousu.complaints.events import EventKind
from tousu.complaints.models import Attachment, Complaint, ComplaintEvent
from tousu.complaints.queues import QUEUES
from tousu.complaints.states import Status


def _spec_dir() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "tmf").is_dir():
            return parent / "shared" / "tmf"
    return Path("/work/shared/tmf")


SPEC_DIR = _spec_dir()
V4_SPEC = SPEC_DIR / "TMF621-TroubleTicket-v4.0.0.swagger.json"
V5_SPEC = SPEC_DIR / "TMF621-Trouble_Ticket-v5.0.1.oas.yaml"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _load(path: Path) -> Any:
    assert path.exists(), f"the TMF621 specification must be at {path} (../shared/tmf beside the checkout)"
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _anyof_for_discriminated_oneof(node: Any) -> Any:
    """v5 picks one branch of a ``oneOf`` by its ``@type`` discriminator, which JSON Schema does
    not know: the branches overlap, so ``oneOf`` would refuse every valid value. ``anyOf`` keeps
    every other rule of the branches."""
    if isinstance(node, dict):
        out = {k: _anyof_for_discriminated_oneof(v) for k, v in node.items()}
        if "oneOf" in out and "discriminator" in out:
            out["anyOf"] = out.pop("oneOf")
        return out
    if isinstance(node, list):
        return [_anyof_for_discriminated_oneof(v) for v in node]
    return node


def validator(version: str, definition: str) -> jsonschema.Validator:
    if version == "v4":
        spec = _load(V4_SPEC)
        return jsonschema.Draft4Validator(
            {"$ref": f"#/definitions/{definition}", "definitions": spec["definitions"]}
        )
    spec = _anyof_for_discriminated_oneof(_load(V5_SPEC))
    return jsonschema.Draft4Validator(
        {"$ref": f"#/components/schemas/{definition}", "components": spec["components"]}
    )


def conforms(version: str, body: Any, definition: str = "TroubleTicket") -> None:
    validator(version, definition).validate(body)


class Tmf(Api):
    """A client of one version, holding one key."""

    def __init__(self, client: Any, token: str, version: str) -> None:
        super().__init__(client, token)
        self.version = version
        self.base = f"/tmf-api/troubleTicket/{version}"
        self.url = f"{self.base}/troubleTicket"

    def get(self, path: str = "", **params: Any) -> Any:
        return self.client.get(self.url + path, params, **self.headers)

    def post(self, body: Any, *, content_type: str = "application/json", url: str | None = None) -> Any:
        return super().post(body, content_type=content_type, url=url or self.url)

    def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json") -> Any:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.patch(self.url + path, data, content_type=content_type, **self.headers)

    def minimal(self, **overrides: Any) -> dict[str, Any]:
        """The least a client from the specification sends."""
        body: dict[str, Any] = {"description": "Internet down since this morning", "severity": "Major"}
        body["ticketType"] = "complaint"
        if self.version == "v5":
            body["@type"] = "TroubleTicket"
        body.update(overrides)
        return body

    def customer(self, phone: str, name: str = "王五") -> dict[str, Any]:
        if self.version == "v4":
            return {
                "id": "c-1",
                "role": "customer",
                "name": name,
                "phone": phone,
                "@referredType": "Individual",
            }
        return {
            "role": "customer",
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "partyOrPartyRole": {
                "id": "c-1",
                "name": name,
                "phone": phone,
                "@type": "PartyRef",
                "@referredType": "Individual",
            },
        }


@pytest.fixture(params=["v4", "v5"])
def tmf(request, client, org) -> Tmf:
    mappings_forget()
    _key, token = apikey_create(name=f"crm-{request.param}", channel="app", scope="write")
    return Tmf(client, token, request.param)


def test_the_specification_files_are_there():
    assert "TroubleTicket_Create" in _load(V4_SPEC)["definitions"]
    assert "TroubleTicket_FVO" in _load(V5_SPEC)["components"]["schemas"]


# --- create ---------------------------------------------------------------------------------------


def test_a_minimal_standard_ticket_is_created_with_its_values_kept(tmf):
    response = tmf.post(tmf.minimal())
    assert response.status_code == 201
    body = response.json()
    case = Complaint.objects.get()
    assert (body["severity"], body["ticketType"], body["status"]) == ("Major", "complaint", "acknowledged")
    assert body["id"] == case.ticket_no
    assert response["Location"] == f"{tmf.url}/{case.ticket_no}"
    assert (case.level, case.category.code, case.customer_id, case.status) == (
        "major",
        "to-classify",
        None,
        Status.ACCEPTED,
    )
    assert body["tousu"]["level"] == "major"
    assert body["tousu"]["category"] == "to-classify"
    assert body["tousu"]["customerToIdentify"] is True
    assert body["tousu"]["ticketNumber"] == case.ticket_no
    assert "relatedParty" not in body
    assert "name" not in body  # the client's, and it sent none
    conforms(tmf.version, body)
    assert tmf.get(f"/{body['id']}").json() == body | {
        "tousu": tmf.get(f"/{body['id']}").json()["tousu"]
    }  # the same resource read back
    conforms(tmf.version, tmf.get(f"/{body['id']}").json())


def test_a_bogus_status_on_create_is_overridden_by_the_server(tmf):
    response = tmf.post(tmf.minimal(status="closed", statusChangeReason="whatever"))
    assert response.status_code == 201
    assert response.json()["status"] == "acknowledged"
    assert Complaint.objects.get().status == Status.ACCEPTED
    conforms(tmf.version, response.json())


def test_server_owned_fields_are_ignored_on_create(tmf):
    response = tmf.post(
        tmf.minimal(
            id="X-1",
            href="http://elsewhere/1",
            resolutionDate="2020-01-01T00:00:00Z",
            expectedResolutionDate="2020-01-01T00:00:00Z",
            statusChangeDate="2020-01-01T00:00:00Z",
        )
    )
    assert response.status_code == 201
    body = response.json()
    case = Complaint.objects.get()
    assert body["id"] == case.ticket_no
    assert body["href"] == f"{tmf.url}/{case.ticket_no}"
    assert "resolutionDate" not in body
    assert body.get("expectedResolutionDate") != "2020-01-01T00:00:00Z"


def _every_field(tmf: Tmf) -> dict[str, Any]:
    body = tmf.minimal(
        name="Billing complaint March",
        description="I was charged twice for the same data pack.",
        severity="critical",
        ticketType="Bill Dispute",
        priority="High",
        requestedResolutionDate="2030-05-31T07:34:45Z",
        channel={"id": "8774", "name": "self service", "@type": "ChannelRef"},
        note=[
            {
                "id": "77456",
                "author": "Jack Smith",
                "date": "2026-05-31T07:34:45Z",
                "text": "Please call me",
                "@type": "Note",
            }
        ],
        attachment=[
            {
                "description": "Scanned disputed bill",
                "attachmentType": "billCopy",
                "mimeType": "image/png",
                "name": "March Bill",
                "url": "https://mycsp.example/docloader?docnum=3534555",
                "@type": "AttachmentRef",
            },
            {
                "name": "screenshot.png",
                "mimeType": "image/png",
                "content": base64.b64encode(PNG).decode(),
                "attachmentType": "evidence",
                "@type": "Attachment",
            },
        ],
        troubleTicketRelationship=[
            {
                "id": "567433",
                "href": "https://mycsp.example/tt/567433",
                "relationshipType": "dependency",
                "@type": "TroubleTicketRelationship",
            }
        ],
        relatedParty=[tmf.customer("13900003333")],
        status="inProgress",
        tousu={"businessType": "data", "serviceNumber": "13900003333"},
    )
    if tmf.version == "v4":
        body["externalId"] = "crm-42"
        body["relatedEntity"] = [{"id": "3472", "role": "disputedBill", "@referredType": "CustomerBill"}]
        body["creationDate"] = (timezone.now() - timedelta(hours=1)).isoformat()
    else:
        body["externalIdentifier"] = [{"id": "crm-42", "owner": "CRM", "@type": "ExternalIdentifier"}]
        body["relatedEntity"] = [
            {
                "role": "disputedBill",
                "@type": "RelatedEntity",
                "entity": {"id": "3472", "@type": "EntityRef", "@referredType": "CustomerBill"},
            }
        ]
        body["troubleTicketCharacteristic"] = [
            {"name": "region", "value": "Shanghai", "valueType": "string", "@type": "StringCharacteristic"}
        ]
    return body


def test_every_optional_field_is_accepted_and_kept(tmf):
    sent = _every_field(tmf)
    response = tmf.post(sent)
    assert response.status_code == 201, response.json()
    body = response.json()
    case = Complaint.objects.get()
    conforms(tmf.version, body)
    # the client's values, as sent
    assert (body["name"], body["severity"], body["ticketType"], body["priority"]) == (
        "Billing complaint March",
        "critical",
        "Bill Dispute",
        "High",
    )
    assert body["requestedResolutionDate"] == "2030-05-31T07:34:45Z"
    assert body["channel"]["id"] == "8774"
    assert body["channel"]["name"] == "self service"
    assert body["relatedEntity"] == sent["relatedEntity"]
    assert body["troubleTicketRelationship"] == sent["troubleTicketRelationship"]
    # Tousu's own, mapped
    assert (case.level, case.category.code, case.business_type, case.external_id) == (
        "crisis",
        "to-classify",
        "data",
        "crm-42",
    )
    assert case.customer is not None
    assert case.customer.phone == "+8613900003333"
    assert body["tousu"]["customerToIdentify"] is False
    # note[] → the customer's notes on the timeline
    note_event = ComplaintEvent.objects.get(complaint=case, kind=EventKind.CUSTOMER_NOTE)
    assert note_event.payload == {
        "text": "Please call me",
        "author": "Jack Smith",
        "date": "2026-05-31T07:34:45Z",
        "id": "77456",
        "via": "api:" + f"crm-{tmf.version}",
    }
    assert body["note"] == [
        {
            "id": "77456",
            "author": "Jack Smith",
            "date": "2026-05-31T07:34:45Z",
            "text": "Please call me",
            "@type": "Note",
        }
    ]
    # attachment[]: by value → evidence file (checked as on the pages); by reference → a link
    evidence = Attachment.objects.get(complaint=case)
    assert (evidence.original_name, evidence.content_type, evidence.size) == (
        "screenshot.png",
        "image/png",
        len(PNG),
    )
    assert evidence.file.read() == PNG
    links = [a for a in body["attachment"] if a.get("url")]
    assert [a["url"] for a in links] == ["https://mycsp.example/docloader?docnum=3534555"]
    assert [a["name"] for a in body["attachment"] if not a.get("url")] == ["screenshot.png"]
    if tmf.version == "v5":
        assert body["externalIdentifier"] == [{"@type": "ExternalIdentifier", "id": "crm-42", "owner": "CRM"}]
        assert body["troubleTicketCharacteristic"] == sent["troubleTicketCharacteristic"]
    else:
        assert body["externalId"] == "crm-42"
    # the same external id again: 200 and the same ticket
    again = tmf.post(sent)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert Complaint.objects.count() == 1


def test_an_attachment_by_value_goes_through_the_evidence_checks(tmf, unchanged):
    bad = tmf.minimal(attachment=[{"name": "run.exe", "content": base64.b64encode(b"MZ\x90\x00").decode()}])
    with unchanged():
        response = tmf.post(bad)
    assert response.status_code == 400
    assert response.json()["fields"] == {"file": "type not allowed"}
    conforms(tmf.version, response.json(), "Error")
    with unchanged():
        not_base64 = tmf.post(tmf.minimal(attachment=[{"name": "a.png", "content": "%%%"}]))
    assert not_base64.status_code == 400
    assert not_base64.json()["fields"] == {"attachment.0.content": "not base64"}


def test_severity_and_ticket_type_map_through_the_tables_case_insensitively(tmf, org):
    leaf = org["wrong_charge"]
    for severity, ticket_type, level, category in [
        ("MINOR", "COMPLAINT", "dissatisfied", "to-classify"),
        ("危机事件", "billing-wrong-charge", "crisis", "billing-wrong-charge"),
        ("very_dissatisfied", leaf.name, "very_dissatisfied", "billing-wrong-charge"),
        ("Urgent-ish", "something new", "dissatisfied", "to-classify"),  # unmapped: defaults
    ]:
        response = tmf.post(tmf.minimal(severity=severity, ticketType=ticket_type))
        assert response.status_code == 201
        assert (response.json()["severity"], response.json()["ticketType"]) == (severity, ticket_type)
        assert (response.json()["tousu"]["level"], response.json()["tousu"]["category"]) == (level, category)
    # An administrator points a TMF example at a category, and raises a severity.
    TicketTypeMapping.objects.filter(value="incident").update(category=leaf)
    SeverityMapping.objects.create(value="Urgent-ish", level="major")
    mappings_forget()
    mapped = tmf.post(tmf.minimal(severity="urgent-ISH", ticketType="Incident")).json()
    assert (mapped["tousu"]["level"], mapped["tousu"]["category"]) == ("major", "billing-wrong-charge")


# --- list -----------------------------------------------------------------------------------------


def test_list_filters_of_every_kind_and_exact_fields(tmf):
    first = tmf.post(tmf.minimal(severity="Major", ticketType="complaint")).json()
    second = tmf.post(tmf.minimal(severity="Minor", ticketType="incident", name="n2")).json()
    Complaint.objects.filter(ticket_no=first["id"]).update(registered_at=timezone.now() - timedelta(days=2))

    def ids(**params: Any) -> list[str]:
        response = tmf.get(**params)
        assert response.status_code == 200, response.json()
        for item in response.json():
            if "fields" not in params:
                conforms(tmf.version, item)
        return [t["id"] for t in response.json()]

    assert ids(severity="Major") == [first["id"]]  # equality, as sent
    assert ids(severity="Minor,Major", sort="creationDate") == [first["id"], second["id"]]  # one of
    assert ids(ticketType="incident") == [second["id"]]
    assert ids(name="n2") == [second["id"]]
    assert ids(status="acknowledged", sort="-creationDate") == [second["id"], first["id"]]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(**{"creationDate.gt": since}) == [second["id"]]  # operator
    assert ids(**{"creationDate.lte": since}) == [first["id"]]
    # equality on a value nothing has: an empty list, not an error
    assert ids(severity="Catastrophic") == []
    assert ids(status="unknownStatus") == []
    assert ids(ticketType="nothing-like-it") == []
    # fields= returns exactly the named attributes
    response = tmf.get(fields="severity,status", sort="creationDate")
    assert response.json() == [
        {"severity": "Major", "status": "acknowledged"},
        {"severity": "Minor", "status": "acknowledged"},
    ]
    assert (response["X-Total-Count"], response["X-Result-Count"]) == ("2", "2")
    assert tmf.get(f"/{second['id']}", fields="name").json() == {"name": "n2"}


# --- errors and paths -----------------------------------------------------------------------------


def test_errors_are_tmf_json_on_every_path(tmf):
    unknown_id = tmf.get("/TS000")
    assert unknown_id.status_code == 404
    conforms(tmf.version, unknown_id.json(), "Error")
    unknown_path = tmf.client.get(f"{tmf.base}/nothingHere", **tmf.headers)
    assert unknown_path.status_code == 404
    assert unknown_path["Content-Type"].startswith("application/json")
    assert unknown_path.json()["code"] == "notFound"
    assert unknown_path.json()["status"] == "404"
    conforms(tmf.version, unknown_path.json(), "Error")
    wrong_method = tmf.client.put(tmf.url, "{}", content_type="application/json", **tmf.headers)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "methodNotAllowed"
    conforms(tmf.version, wrong_method.json(), "Error")
    bad = tmf.post(
        {
            "severity": "Major",
            "ticketType": "complaint",
            **({"@type": "TroubleTicket"} if tmf.version == "v5" else {}),
        }
    )
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"description": "required"}
    conforms(tmf.version, bad.json(), "Error")
    outside = tmf.client.get("/tmf-api/nothing/v9/x", **tmf.headers)
    assert outside.status_code == 404
    assert outside.json()["status"] == "404"


def test_a_trailing_slash_works_on_every_path(tmf):
    created = tmf.post(tmf.minimal(), url=tmf.url + "/")
    assert created.status_code == 201
    tid = created.json()["id"]
    assert tmf.client.get(tmf.url + "/", **tmf.headers).status_code == 200
    assert tmf.client.get(f"{tmf.url}/{tid}/", **tmf.headers).json()["id"] == tid
    patched = tmf.client.patch(
        f"{tmf.url}/{tid}/",
        json.dumps({"name": "renamed"}),
        content_type="application/merge-patch+json",
        **tmf.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "renamed"
    hub = tmf.client.post(
        f"{tmf.base}/hub/",
        json.dumps({"callback": "https://crm.example/listener"}),
        content_type="application/json",
        **tmf.headers,
    )
    assert hub.status_code == 201
    assert tmf.client.get(f"{tmf.base}/openapi.json/").status_code == 200


def test_each_version_serves_its_own_openapi_document(client):
    v4 = client.get("/tmf-api/troubleTicket/v4/openapi.json").json()
    v5 = client.get("/tmf-api/troubleTicket/v5/openapi.json").json()
    assert (v4["info"]["version"], v5["info"]["version"]) == ("4.0.0", "5.0.1")
    assert "TroubleTicketCreate" in v4["components"]["schemas"]
    assert "TroubleTicket_FVO" in v5["components"]["schemas"]
    assert "@type" in v5["components"]["schemas"]["TroubleTicket_FVO"]["required"]


# --- patch ----------------------------------------------------------------------------------------


def test_patch_accepts_every_update_field(tmf):
    tid = tmf.post(tmf.minimal(relatedParty=[])).json()["id"]
    case = Complaint.objects.get()
    original = case.description
    patch: dict[str, Any] = {
        "name": "Renamed by the client",
        "description": "Internet down since this morning; the router shows a red light.",
        "priority": "Low",
        "severity": "Critical",
        "requestedResolutionDate": "2031-01-01T00:00:00Z",
        "note": [{"text": "I am at home after 18:00", "@type": "Note"}],
        "relatedParty": [tmf.customer("13900004444", name="赵六")],
        "expectedResolutionDate": "2020-01-01T00:00:00Z",  # the server's: ignored
    }
    if tmf.version == "v5":
        patch["@type"] = "TroubleTicket"
        patch["relatedEntity"] = [
            {"role": "router", "@type": "RelatedEntity", "entity": {"id": "r1", "@type": "EntityRef"}}
        ]
    else:
        patch["relatedEntity"] = [{"id": "r1", "role": "router", "@referredType": "Resource"}]
    response = tmf.patch(f"/{tid}", patch)
    assert response.status_code == 200, response.json()
    body = response.json()
    conforms(tmf.version, body)
    case.refresh_from_db()
    assert (body["name"], body["priority"], body["severity"], body["requestedResolutionDate"]) == (
        "Renamed by the client",
        "Low",
        "Critical",
        "2031-01-01T00:00:00Z",
    )
    assert body["relatedEntity"] == patch["relatedEntity"]
    assert case.level == "crisis"
    assert case.description == patch["description"]
    amended = ComplaintEvent.objects.get(complaint=case, kind=EventKind.DESCRIPTION_AMENDED)
    assert (amended.payload["from"], amended.payload["to"]) == (original, patch["description"])
    assert [n["text"] for n in body["note"]] == ["I am at home after 18:00"]
    assert case.customer is not None
    assert case.customer.phone == "+8613900004444"
    assert ComplaintEvent.objects.filter(complaint=case, kind=EventKind.CUSTOMER_LINKED).count() == 1
    updated = ComplaintEvent.objects.get(complaint=case, kind=EventKind.TICKET_UPDATED)
    assert updated.payload["changes"]["name"] == ["", "Renamed by the client"]
    assert updated.payload["changes"]["priority"] == ["", "Low"]
    assert updated.payload["changes"]["severity"] == ["Major", "Critical"]


def test_a_patch_that_changes_nothing_is_a_200_and_writes_nothing(tmf, unchanged):
    created = tmf.post(tmf.minimal(name="same")).json()
    same = {
        "name": "same",
        "severity": "Major",
        "status": "acknowledged",
        "description": created["description"],
    }
    if tmf.version == "v5":
        same["@type"] = "TroubleTicket"
    with unchanged():
        response = tmf.patch(f"/{created['id']}", same)
    assert response.status_code == 200
    assert response.json()["tousu"]["version"] == created["tousu"]["version"]


def test_a_refused_patch_changes_nothing(tmf, unchanged):
    tid = tmf.post(tmf.minimal()).json()["id"]
    with unchanged():
        response = tmf.patch(f"/{tid}", {"name": "x", "status": "closed", "statusChangeReason": "done"})
    assert response.status_code == 409
    conforms(tmf.version, response.json(), "Error")
    assert TicketAttributes.objects.get().name == ""


# --- TM Forum's own examples ----------------------------------------------------------------------


def _example(name: str) -> Any:
    return copy.deepcopy(_load(V5_SPEC)["components"]["examples"][name]["value"])


def test_tm_forums_own_example_bodies_are_accepted_verbatim(client, people):
    _key, token = apikey_create(name="crm", channel="app", scope="write")
    api = Tmf(client, token, "v5")
    created = api.post(_example("TroubleTicket_create_example_request"))
    assert created.status_code == 201, created.json()
    body = created.json()
    conforms("v5", body)
    assert (body["name"], body["severity"], body["ticketType"], body["status"]) == (
        "complaint over last bill",
        "Major",
        "Bill Dispute",
        "acknowledged",
    )
    assert body["tousu"]["customerToIdentify"] is True  # the customer party has no contact
    assert [p["role"] for p in body["relatedParty"]] == ["member", "reporter", "customer"]
    assert body["relatedParty"][2]["partyOrPartyRole"]["id"] == "9176"
    assert body["note"][0]["text"] == "This is quite important, please aproch me as soon as posible"
    assert body["attachment"][0]["url"] == "https://mycsp.com:7070/docloader?docnum=3534555"
    # Tousu answers a ticket once a plan exists (its lifecycle): an agent proposes one.
    case = Complaint.objects.get()
    supervisor = people["supervisor"]
    svc.complaint_transition(actor=supervisor, complaint_id=case.pk, to=Status.INVESTIGATING, note="核查")
    svc.complaint_propose_plan(
        actor=supervisor,
        complaint_id=case.pk,
        kind="immediate",
        measures="退还 VOD 费用",
        responsible_id=people["handler"].pk,
        deadline=timezone.now() + timedelta(days=1),
    )
    patched = api.patch(
        f"/{body['id']}", _example("TroubleTicket_partialupdate_example_application_merge_json_request")
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["status"] == "resolved"
    conforms("v5", patched.json())
    # The same ticket through v4 (its relatedParty drawn flat), valid there too.
    _key4, token4 = apikey_create(name="crm4", channel="app", scope="read")
    v4 = Tmf(client, token4, "v4").get(f"/{body['id']}").json()
    conforms("v4", v4)
    assert [p["role"] for p in v4["relatedParty"]] == ["member", "reporter", "customer"]


# --- customer to identify -------------------------------------------------------------------------


def test_a_case_without_customer_is_queued_and_linked_by_an_agent(tmf, client, people, unchanged):

    tid = tmf.post(tmf.minimal()).json()["id"]
    case = Complaint.objects.get()
    assert "customer_to_identify" in QUEUES
    agent = people["supervisor"]
    client.force_login(agent)
    queue = client.get("/queues/customer_to_identify/")
    assert queue.status_code == 200
    assert tid in queue.content.decode()
    assert f'href="/cases/{case.pk}/"' in queue.content.decode()
    page = client.get(f"/cases/{case.pk}/")
    assert 'id="customer-to-identify"' in page.content.decode()
    response = client.post(
        f"/cases/{case.pk}/do/link-customer/",
        {
            "link-customer-version": case.version,
            "link-customer-phone": "13900005555",
            "link-customer-customer_name": "钱七",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    case.refresh_from_db()
    assert case.customer is not None
    assert (case.customer.phone, case.customer.name) == (
        "+8613900005555",
        "钱七",
    )
    event = ComplaintEvent.objects.get(complaint=case, kind=EventKind.CUSTOMER_LINKED)
    assert (event.actor, event.payload["customer_id"]) == (agent, case.customer_id)
    after = client.get("/queues/customer_to_identify/").content.decode()
    assert f'href="/cases/{case.pk}/"' not in after
    with unchanged(), pytest.raises(InvalidTransition):
        svc.complaint_link_customer(actor=agent, complaint_id=case.pk, phone="13900006666")


def test_the_outbox_handles_a_case_without_customer(client, org):
    from tousu.notifications.models import Notification
    from tousu.notifications.services import outbox_dispatch

    _key, token = apikey_create(name="crm", channel="app", scope="write")
    Tmf(client, token, "v4").post(Tmf(client, token, "v4").minimal())
    assert outbox_dispatch() > 0  # the acknowledgement event: nobody to write to, no failure
    case = Complaint.objects.get()
    assert not Notification.objects.filter(complaint=case, transport__in=["sms", "email"]).exists()
    assert not ComplaintEvent.objects.filter(pending_dispatch=True).exists()


# --- TroubleTicketSpecification (v5): the category tree, read-only --------------------------------

SPECS = "/tmf-api/troubleTicket/v5/troubleTicketSpecification"


@pytest.fixture
def v5(client, org) -> Tmf:
    _key, token = apikey_create(name="crm-specs", channel="app", scope="read")
    return Tmf(client, token, "v5")


def _spec(code: str, name: str, description: str) -> dict[str, Any]:
    return {
        "id": code,
        "href": f"{SPECS}/{code}",
        "name": name,
        "description": description,
        "lifecycleStatus": "active",
        "@type": "TroubleTicketSpecification",
    }


def test_specifications_are_the_active_leaf_categories(v5, org):
    from tousu.complaints.models import Category

    Category.objects.create(code="network-slow", name="网速慢", parent=org["network"], is_active=False)
    vas = Category.objects.create(code="vas", name="增值业务", sort_order=5)  # a top-level leaf
    Category.objects.create(code="vas-sms", name="短信", parent=vas, is_active=False)
    retired = Category.objects.create(code="retired", name="旧类", is_active=False)
    Category.objects.create(code="retired-child", name="旧子类", parent=retired)  # its parent is inactive
    response = v5.client.get(SPECS, **v5.headers)
    assert response.status_code == 200
    assert response.json() == [
        _spec("billing-wrong-charge", "错收", "资费类 › 错收"),
        _spec("network-outage", "网络中断", "网络类 › 网络中断"),
        _spec("vas", "增值业务", "增值业务"),
    ]
    assert (response["X-Total-Count"], response["X-Result-Count"]) == ("3", "3")
    for item in response.json():
        conforms("v5", item, "TroubleTicketSpecification_RES")
    page = v5.client.get(SPECS, {"offset": 1, "limit": 1}, **v5.headers)
    assert [s["id"] for s in page.json()] == ["network-outage"]
    assert (page["X-Total-Count"], page["X-Result-Count"]) == ("3", "1")
    named = v5.client.get(SPECS, {"fields": "id,name", "limit": 2}, **v5.headers)
    assert named.json() == [
        {"id": "billing-wrong-charge", "name": "错收"},
        {"id": "network-outage", "name": "网络中断"},
    ]
    # the spec's own example query: lifecycleStatus=active with fields
    active = v5.client.get(
        SPECS + "/",
        {"lifecycleStatus": "active", "fields": "id,href,name,@type,lifecycleStatus"},
        **v5.headers,
    )
    assert [s["id"] for s in active.json()] == ["billing-wrong-charge", "network-outage", "vas"]
    assert set(active.json()[0]) == {"id", "href", "name", "@type", "lifecycleStatus"}
    retired_list = v5.client.get(SPECS, {"lifecycleStatus": "retired"}, **v5.headers)
    assert (retired_list.json(), retired_list["X-Total-Count"]) == ([], "0")
    by_id = v5.client.get(SPECS, {"id": "vas,network-outage"}, **v5.headers)
    assert [s["id"] for s in by_id.json()] == ["network-outage", "vas"]
    assert [s["id"] for s in v5.client.get(SPECS, {"name": "错收"}, **v5.headers).json()] == [
        "billing-wrong-charge"
    ]
    bad = v5.client.get(SPECS, {"colour": "red"}, **v5.headers)
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"colour": "invalid filter"}
    conforms("v5", bad.json(), "Error")


def test_a_specification_is_retrieved_by_its_category_code(v5, org):
    response = v5.client.get(f"{SPECS}/network-outage", **v5.headers)
    assert response.status_code == 200
    assert response.json() == _spec("network-outage", "网络中断", "网络类 › 网络中断")
    conforms("v5", response.json(), "TroubleTicketSpecification_RES")
    assert v5.client.get(f"{SPECS}/network-outage/", {"fields": "lifecycleStatus"}, **v5.headers).json() == {
        "lifecycleStatus": "active"
    }
    for missing in ("network", "nothing", "x" * 300):  # a parent is not a specification
        gone = v5.client.get(f"{SPECS}/{missing}", **v5.headers)
        assert gone.status_code == 404
        assert (gone.json()["code"], gone.json()["status"]) == ("not_found", "404")
        conforms("v5", gone.json(), "Error")
    org["outage"].is_active = False
    org["outage"].save()
    assert v5.client.get(f"{SPECS}/network-outage", **v5.headers).status_code == 404
    assert v5.client.get(f"{SPECS}/network", **v5.headers).status_code == 200  # now a leaf
    assert v5.client.get(SPECS, HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_specifications_are_read_only_through_the_api(v5, client, org, unchanged):
    _key, token = apikey_create(name="crm-admin", channel="app", scope="admin")
    admin = Tmf(client, token, "v5")
    body = copy.deepcopy(
        _load(V5_SPEC)["components"]["examples"]["TroubleTicketSpecification_create_example_request"]
    )
    calls = [
        lambda: admin.client.post(
            SPECS, json.dumps(body["value"]), content_type="application/json", **admin.headers
        ),
        lambda: admin.client.patch(
            f"{SPECS}/network-outage",
            json.dumps({"name": "x", "@type": "TroubleTicketSpecification"}),
            content_type="application/merge-patch+json",
            **admin.headers,
        ),
        lambda: admin.client.delete(f"{SPECS}/network-outage", **admin.headers),
    ]
    for call in calls:
        with unchanged():
            response = call()
        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert response.json()["code"] == "methodNotAllowed"
        assert "edited in the administration" in response.json()["message"]
        conforms("v5", response.json(), "Error")
    # v4 has no specifications
    assert (
        client.get("/tmf-api/troubleTicket/v4/troubleTicketSpecification", **admin.headers).status_code == 404
    )
    paths = client.get("/tmf-api/troubleTicket/v5/openapi.json").json()["paths"]
    assert set(paths["/tmf-api/troubleTicket/v5/troubleTicketSpecification"]) == {"get"}
    assert set(paths["/tmf-api/troubleTicket/v5/troubleTicketSpecification/{id}"]) == {"get"}
