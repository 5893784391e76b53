"""The registration fast path (``common.fastsql.insert_tree``) takes its columns from the models'
metadata on both databases (ADR 0013): every column of the case, its events and its clocks is
written, with the value the object holds (field defaults included), and nothing else."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tousu.accounts.models import Department
from tousu.common.fastsql import insert_tree
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import SlaClock

INSERT = re.compile(r'INSERT INTO "(?P<table>\w+)" \((?P<columns>[^)]*)\)')


def _columns(model: Any) -> list[str]:
    return [f'"{f.column}"' for f in model._meta.concrete_fields if not f.primary_key]


def _register(org: dict[str, Any], actor: Any, **extra: Any) -> Complaint:
    fields: dict[str, Any] = {
        "channel": "hotline",
        "phone": "13800138000",
        "business_type": "mobile",
        "category_id": org["wrong_charge"].pk,
        "description": "用户反映账单被收取30元彩铃费用，从未订购。",
    }
    return svc.complaint_register(actor=actor, accept=True, **{**fields, **extra})


def test_the_fast_path_writes_every_column_of_the_models(org, people):
    sla_bootstrap()
    _register(org, people["agent"])  # the customer exists: only the case's rows are written below
    with CaptureQueriesContext(connection) as ctx:
        _register(org, people["agent"], level="major")
    written: dict[str, list[list[str]]] = {}
    for query in ctx.captured_queries:
        for match in INSERT.finditer(query["sql"]):
            columns = [c.strip() for c in match["columns"].split(",")]
            written.setdefault(match["table"], []).append(columns)
    assert written == {
        Complaint._meta.db_table: [_columns(Complaint)],
        ComplaintEvent._meta.db_table: [_columns(ComplaintEvent)],
        SlaClock._meta.db_table: [_columns(SlaClock)],
    }
    if connection.vendor == "postgresql":  # the three INSERTs are one statement
        assert sum(1 for q in ctx.captured_queries if "INSERT INTO" in q["sql"]) == 1


def test_a_skipped_parent_writes_no_child(org, people):
    first = _register(org, people["agent"], external_id="x-1", channel="app")
    events = ComplaintEvent.objects.count()
    twin = Complaint(
        status=first.status,
        channel=first.channel,
        external_id=first.external_id,
        business_type=first.business_type,
        category_id=first.category_id,
        description="twin",
        customer_id=first.customer_id,
        received_at=first.received_at,
        registered_at=first.registered_at,
        status_changed_at=first.status_changed_at,
        updated_at=first.updated_at,
    )
    child = ComplaintEvent(created_at=first.registered_at, kind="registered", actor_label="system")
    assert insert_tree(twin, [child], skip_conflicts=True) is False
    assert twin.pk is None
    assert Complaint.objects.filter(external_id="x-1").count() == 1
    assert ComplaintEvent.objects.count() == events


def test_a_child_needs_one_foreign_key_to_the_parent(org, db):
    complaint = Complaint(description="x")
    with pytest.raises(TypeError, match="Department needs exactly one foreign key to Complaint"):
        insert_tree(complaint, [Department(name="x")])
    assert not Complaint.objects.exists()
