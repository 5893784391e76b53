"""Concurrent TMF621 calls (PostgreSQL): retries of one create make one case (one 201, the rest
200 with the same id); identical PATCHes all answer 200, the change made once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tousu.api import services
from tousu.api.keys import apikey_create
from tousu.api.schemas import TroubleTicketCreate
from tousu.api.tmf_v4 import create_input
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent writers need PostgreSQL"),
]

URL = "/tmf-api/troubleTicket/v4/troubleTicket"


def _at_once(n: int, call: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []

    def run() -> None:
        try:
            barrier.wait(10)
            results.append(call())
        except Exception as exc:  # a failure is the result under test
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_retries_with_one_external_id_make_one_case(org):
    key, _token = apikey_create(name="app", channel="app", scope="write")
    data = TroubleTicketCreate.model_validate(
        {
            "description": "同一条消息的两次重试",
            "severity": "dissatisfied",
            "ticketType": "billing-wrong-charge",
            "externalId": "app-race-1",
            "relatedParty": [{"role": "customer", "phone": "13900002222"}],
        }
    )

    def create() -> tuple[int, bool]:
        complaint, created, _related = services.ticket_create(key=key, data=create_input(data))
        return complaint.pk, created

    results = _at_once(4, create)
    case = Complaint.objects.get()
    assert case.status == "accepted"
    assert sorted(results, key=lambda r: not r[1]) == [(case.pk, True)] + [(case.pk, False)] * 3


@pytest.mark.parametrize("with_customer", [True, False])
def test_twenty_creates_with_one_external_id_give_one_201_and_nineteen_200(org, with_customer):
    _key, token = apikey_create(name="crm", channel="app", scope="write")
    body: dict[str, Any] = {
        "description": "Internet down",
        "severity": "Major",
        "ticketType": "complaint",
        "externalId": "crm-race-20",
    }
    if with_customer:
        body["relatedParty"] = [
            {"id": "1", "role": "customer", "phone": "13900007777", "@referredType": "Individual"}
        ]

    def create() -> tuple[int, str]:
        response = Client().post(
            URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        return response.status_code, response.json()["id"]

    results = _at_once(20, create)
    case = Complaint.objects.get()
    assert sorted(status for status, _id in results) == [200] * 19 + [201]
    assert {tid for _status, tid in results} == {case.ticket_no}
    assert ComplaintEvent.objects.filter(kind=EventKind.ACCEPTED).count() == 1


def test_twenty_identical_patches_all_answer_200_and_change_once(org):
    _key, token = apikey_create(name="crm", channel="app", scope="write")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    created = (
        Client()
        .post(
            URL,
            json.dumps({"description": "Internet down", "severity": "Major", "ticketType": "complaint"}),
            content_type="application/json",
            **auth,
        )
        .json()
    )
    patch = json.dumps(
        {"status": "inProgress", "statusChangeReason": "checking", "name": "n1", "priority": "High"}
    )

    def update() -> int:
        response = Client().patch(
            f"{URL}/{created['id']}", patch, content_type="application/merge-patch+json", **auth
        )
        return response.status_code

    assert _at_once(20, update) == [200] * 20
    case = Complaint.objects.get()
    assert case.status == "investigating"
    assert ComplaintEvent.objects.filter(kind=EventKind.STATUS_CHANGED).count() == 1
    assert ComplaintEvent.objects.filter(kind=EventKind.TICKET_UPDATED).count() == 1
