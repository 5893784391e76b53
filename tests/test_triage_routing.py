"""Routing rules (category × region × business type → department): the most specific rule wins,
the category's default department otherwise; automatic and staff classification dispatch the
case there through complaint_dispatch; the suggestion names the routed department."""

from __future__ import annotations

import pytest

from tousu.accounts.models import Region
from tousu.common.origin import EMAIL
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.states import Status
from tousu.triage.models import RoutingRule
from tousu.triage.selectors import route, suggestion_for
from tousu.triage.services import classification_decide, triage_intake

OUTAGE_TEXT = "家里宽带断网三天了，光猫红灯一直闪，要求尽快修复"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TOUSU_TRIAGE_LAG_SECONDS = 0
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 60
    settings.TOUSU_TRIAGE_ESCALATION_RISK = 101  # no escalation in these tests


def test_most_specific_rule_wins_then_the_category_default(org):
    d, outage, network = org["dept"], org["outage"], org["network"]
    rural = Region.objects.create(code="mz-dabu", name="梅州市大埔县", is_rural=True)
    assert route(outage) == d["network"]  # no rule: the leaf's default department
    RoutingRule.objects.create(category=network, department=d["customer_service"])  # parent category
    assert route(outage) == d["customer_service"]
    RoutingRule.objects.create(category=outage, department=d["management"], priority=5)
    assert route(outage) == d["management"]  # the leaf beats its parent
    RoutingRule.objects.create(category=outage, region=rural, department=d["legal"])
    assert route(outage, rural.pk) == d["legal"]  # leaf × region beats leaf
    assert route(outage, org["urban"].pk) == d["management"]
    RoutingRule.objects.create(
        category=outage, region=rural, business_type="broadband", department=d["billing"]
    )
    assert route(outage, rural.pk, "broadband") == d["billing"]
    assert route(outage, rural.pk, "mobile") == d["legal"]
    RoutingRule.objects.filter(department=d["billing"]).update(is_active=False)
    assert route(outage, rural.pk, "broadband") == d["legal"]
    assert route(None) is None


def test_automatic_classification_dispatches_by_rule(cases, org):
    RoutingRule.objects.create(category=org["outage"], department=org["dept"]["customer_service"])
    case = cases.register(actor=None, origin=EMAIL, channel="email", description=OUTAGE_TEXT, accept=True)
    assert case.status == Status.ACCEPTED
    triage_intake()
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED
    assert case.lead_department == org["dept"]["customer_service"]
    event = ComplaintEvent.objects.get(complaint=case, kind=EventKind.DISPATCHED)
    assert (event.actor_id, event.payload["lead_department"], event.payload["note"]) == (
        None,
        "customer_service",
        "按分拣规则派单",
    )


def test_a_queued_case_is_dispatched_when_staff_classify_it(cases, org, people, settings):
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 101
    case = cases.register(actor=None, origin=EMAIL, channel="email", description=OUTAGE_TEXT, accept=True)
    triage_intake()
    case.refresh_from_db()
    assert (case.status, case.lead_department_id) == (Status.ACCEPTED, None)
    classification_decide(
        actor=people["supervisor"], complaint_id=case.pk, category_id=org["outage"].pk, level="dissatisfied"
    )
    case.refresh_from_db()
    assert (case.status, case.lead_department) == (Status.DISPATCHED, org["dept"]["network"])
    assert ComplaintEvent.objects.get(complaint=case, kind=EventKind.DISPATCHED).actor == people["supervisor"]


def test_an_unaccepted_or_routed_case_is_not_dispatched_again(cases, org):
    case = cases.register(
        actor=None, origin=EMAIL, channel="email", description=OUTAGE_TEXT
    )  # registered only
    triage_intake()
    case.refresh_from_db()
    assert case.status == Status.REGISTERED
    assert not ComplaintEvent.objects.filter(complaint=case, kind=EventKind.DISPATCHED).exists()


def test_the_suggestion_names_the_routed_department(org):
    RoutingRule.objects.create(
        category=org["outage"], business_type="broadband", department=org["dept"]["management"]
    )
    assert suggestion_for(OUTAGE_TEXT, None, "broadband").department == org["dept"]["management"]
    assert suggestion_for(OUTAGE_TEXT, None, "mobile").department == org["dept"]["network"]
