"""Two retries of one TMF621 create at the same moment: one case, one 201, one 200 (PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from tousu.api import services
from tousu.api.keys import apikey_create
from tousu.api.schemas import TroubleTicketCreate
from tousu.complaints.models import Complaint

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent writers need PostgreSQL"),
]


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
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def create() -> None:
        try:
            barrier.wait(5)
            complaint, created = services.ticket_create(key=key, data=data)
            results.append((complaint.pk, created))
        except Exception as exc:  # a failure is the result under test
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    case = Complaint.objects.get()
    assert case.status == "accepted"
    assert sorted(results, key=lambda r: not r[1]) == [(case.pk, True)] + [(case.pk, False)] * 3
