"""The staff search box: what agents type finds the cases they mean, within their scope, and a
search by the last digits of a phone is audited like a reveal."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from tousu.audit.models import AuditEvent, AuditKind
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint
from tousu.complaints.queues import QueueFilters, complaint_queue, is_word_search
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _keep_active_language():
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def spread(org, people, cases, time_machine) -> dict[str, Complaint]:
    """one: 张三 (13812348000), ticket TS20261123000001, billing; two: 李四 (13912345678), ticket
    TS20261124000001, led by the network department; three: 张三, service number 13700001111, no
    ticket yet."""
    sla_bootstrap()
    time_machine.move_to(datetime(2026, 11, 23, 10, 0, tzinfo=SH), tick=False)
    one = cases.make(Status.ACCEPTED)
    time_machine.move_to(datetime(2026, 11, 24, 9, 0, tzinfo=SH), tick=False)
    two = cases.register(
        phone="139 1234 5678",
        customer_name="李四",
        category_id=org["outage"].pk,
        description="小区宽带断网两天，无法办公",
    )
    svc.complaint_accept(actor=people["agent"], complaint_id=two.pk)
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=two.pk, lead_department_id=org["dept"]["network"].pk
    )
    three = cases.register(service_number="13700001111", description="宽带 月租 多扣")
    return {
        "one": Complaint.objects.get(pk=one.pk),
        "two": Complaint.objects.get(pk=two.pk),
        "three": Complaint.objects.get(pk=three.pk),
    }


def _found(spread: dict[str, Complaint], actor, text: str) -> set[str]:
    ids = set(
        complaint_queue(actor=actor, name="all", filters=QueueFilters(q=text)).values_list("pk", flat=True)
    )
    return {name for name, case in spread.items() if case.pk in ids}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TS20261123000001", {"one"}),  # the ticket number
        ("20261123000001", {"one"}),  # without TS
        ("20261124", {"two"}),  # its start without TS: a day's tickets
        ("2026112", set()),  # 7 digits: too short for a ticket, the end of no phone
        ("5678", {"two"}),  # the last digits of 李四's phone
        ("345678", {"two"}),
        ("8000", {"one", "three"}),  # 张三's phone
        ("1111", {"three"}),  # the end of the service number
        ("0000 1111", {"three"}),
        ("4321", set()),
        ("13700001111", {"three"}),  # the whole service number
        ("李四", {"two"}),  # the customer's name
        ("张三", {"one", "three"}),
        ("张", set()),  # a name is matched whole, and no description holds 张
        ("宽带", {"two", "three"}),  # Chinese words of the description
        ("断网 宽带", {"two"}),
        ("月租多扣", set()),  # words are matched as typed
        ("彩铃费用", {"one"}),
    ],
)
def test_search_finds_what_agents_type(spread, people, text, expected):
    assert _found(spread, people["supervisor"], text) == expected


def test_a_hash_and_the_case_id_finds_that_case_only(spread, people):
    two = spread["two"]
    assert _found(spread, people["supervisor"], f"#{two.pk}") == {"two"}
    assert _found(spread, people["supervisor"], f" #{spread['three'].pk} ") == {"three"}
    assert _found(spread, people["supervisor"], "#999999") == set()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("宽带", True),
        ("李四", True),
        ("#12", False),
        ("5678", False),
        ("TS2026", False),
        ("13912345678", False),
    ],
)
def test_only_words_are_searched_as_words(text, words):
    assert is_word_search(text) is words


def test_a_phone_tail_finds_only_cases_in_the_searchers_scope(spread, people):
    # 'two' is led by the network department: its handlers find it, the billing handlers do not.
    assert _found(spread, people["handler_other"], "5678") == {"two"}
    assert _found(spread, people["handler"], "5678") == set()
    assert _found(spread, people["handler"], "李四") == set()
    assert _found(spread, people["handler"], f"#{spread['two'].pk}") == set()


def test_a_phone_tail_search_is_audited_like_a_reveal(spread, people, client):
    client.force_login(people["supervisor"])
    before = AuditEvent.objects.count()
    response = client.get("/queues/all/?q=5678", **EN)
    assert response.status_code == 200
    assert [r.case.pk for r in response.context["rows"]] == [spread["two"].pk]
    rows = list(AuditEvent.objects.order_by("-id")[: AuditEvent.objects.count() - before])
    assert [(r.kind, r.actor_id, r.object_type, r.field, r.via, r.payload) for r in rows] == [
        (
            AuditKind.PERSONAL_DATA_REVEALED,
            people["supervisor"].pk,
            "search",
            "phone_tail",
            "web",
            {"digits": "5678", "found": 1},
        )
    ]


def test_a_handler_out_of_scope_is_audited_and_finds_nothing(spread, people, client):
    client.force_login(people["handler"])
    response = client.get("/queues/all/?q=5678", **EN)
    assert response.status_code == 200
    assert response.context["rows"] == []
    row = AuditEvent.objects.filter(kind=AuditKind.PERSONAL_DATA_REVEALED).get()
    assert (row.actor_id, row.payload) == (people["handler"].pk, {"digits": "5678", "found": 0})


@pytest.mark.parametrize("text", ["宽带", "李四", "TS20261123", "#1", "20261123000001"])
def test_other_searches_write_no_audit_row(spread, people, client, text):
    client.force_login(people["supervisor"])
    client.get("/queues/all/", {"q": text}, **EN)
    assert not AuditEvent.objects.filter(kind=AuditKind.PERSONAL_DATA_REVEALED).exists()
