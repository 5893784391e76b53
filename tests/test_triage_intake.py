"""Automatic classification of cases that came in without an agent (worker job ``triage``):
applied above the confidence threshold with a "classified" event, else the "to classify" queue;
escalation by risk; staff deciding a queued case (denied paths change nothing)."""

from __future__ import annotations

import pytest

from tousu.common.errors import NotFound, PermissionDenied
from tousu.common.origin import EMAIL
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.ops.worker import JOBS
from tousu.triage import selectors
from tousu.triage.models import Classification, EventCursor, Outcome
from tousu.triage.services import classification_decide, triage_intake

OUTAGE_TEXT = "家里宽带断网三天了，光猫红灯一直闪，要求尽快修复"


@pytest.fixture(autouse=True)
def _no_lag(settings):
    settings.TOUSU_TRIAGE_LAG_SECONDS = 0
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 60
    settings.TOUSU_TRIAGE_ESCALATION_RISK = 85


def _email_case(cases, text: str) -> Complaint:
    return cases.register(
        actor=None,
        origin=EMAIL,
        channel="email",
        phone="",
        email="kh@example.com",
        description=text,
        demand="",
    )


def test_the_worker_runs_the_job():
    assert ("triage", "triage", triage_intake) in JOBS


def test_confident_prediction_sets_category_with_an_event(cases, org):
    case = _email_case(cases, OUTAGE_TEXT)
    assert case.category_id == org["wrong_charge"].pk
    assert triage_intake() == 1
    case.refresh_from_db()
    assert case.category_id == org["outage"].pk
    assert case.level == "dissatisfied"
    row = Classification.objects.get(complaint=case)
    assert (row.outcome, row.subcategory, row.level, row.model_version) == (
        Outcome.APPLIED,
        "network-outage",
        "dissatisfied",
        "shipped",
    )
    assert row.confidence >= 0.6
    event = ComplaintEvent.objects.get(complaint=case, kind=EventKind.CLASSIFIED)
    assert event.actor_id is None
    assert event.payload["from_category"] == "billing-wrong-charge"
    assert event.payload["to_category"] == "network-outage"
    assert event.payload["model_version"] == "shipped"
    assert event.payload["explanation"] == row.explanation
    assert "→ network-outage" in row.explanation
    # read once: the next run finds nothing new
    assert triage_intake() == 0
    assert Classification.objects.count() == 1


def test_cases_registered_by_an_agent_are_left_to_the_agent(cases):
    case = cases.register(description=OUTAGE_TEXT)  # hotline, by the agent
    assert triage_intake() == 1
    assert not Classification.objects.filter(complaint=case).exists()
    assert not ComplaintEvent.objects.filter(complaint=case, kind=EventKind.CLASSIFIED).exists()
    assert (
        EventCursor.objects.get().last_event_id
        == ComplaintEvent.objects.get(complaint=case, kind=EventKind.REGISTERED).pk
    )


def test_regulator_referrals_are_classified_even_when_imported_by_staff(cases, org):
    case = cases.register(channel="regulator", description="工信部转办：用户反映" + OUTAGE_TEXT)
    triage_intake()
    case.refresh_from_db()
    assert case.category_id == org["outage"].pk
    assert case.level == "major"  # the model says major for a regulator referral; never lowered
    # one change through the case services: category and level together, audited before/after
    [change] = ComplaintEvent.objects.filter(complaint=case, kind=EventKind.RECLASSIFIED)
    assert (change.via, change.payload["before"]["level"], change.payload["after"]) == (
        "triage",
        "dissatisfied",
        {"category": "network-outage", "level": "major"},
    )


def test_below_threshold_goes_to_the_queue_and_staff_decide(cases, org, people, settings, unchanged):
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 101  # never sure enough
    case = _email_case(cases, OUTAGE_TEXT)
    triage_intake()
    case.refresh_from_db()
    assert case.category_id == org["wrong_charge"].pk  # unchanged
    assert not ComplaintEvent.objects.filter(complaint=case, kind=EventKind.CLASSIFIED).exists()
    row = Classification.objects.get(complaint=case)
    assert row.outcome == Outcome.QUEUED
    assert list(selectors.to_classify(people["supervisor"])) == [row]
    assert list(selectors.to_classify(people["agent_other"])) == []  # not in an agent's scope

    with unchanged(), pytest.raises(PermissionDenied):
        classification_decide(
            actor=people["inspector"],
            complaint_id=case.pk,
            category_id=org["outage"].pk,
            level="dissatisfied",
        )
    with unchanged(), pytest.raises(NotFound):
        classification_decide(
            actor=people["supervisor"],
            complaint_id=case.pk + 999,
            category_id=org["outage"].pk,
            level="major",
        )

    decided = classification_decide(
        actor=people["supervisor"], complaint_id=case.pk, category_id=org["outage"].pk, level="dissatisfied"
    )
    assert (decided.outcome, decided.chosen_category, decided.chosen_level, decided.decided_by) == (
        Outcome.CONFIRMED,
        "network-outage",
        "dissatisfied",
        people["supervisor"],
    )
    case.refresh_from_db()
    assert case.category_id == org["outage"].pk
    event = ComplaintEvent.objects.get(complaint=case, kind=EventKind.CLASSIFIED)
    assert (event.actor, event.payload["suggested"], event.payload["reason"]) == (
        people["supervisor"],
        "network-outage",
        "人工分类",
    )
    assert list(selectors.to_classify(people["supervisor"])) == []


def test_high_escalation_risk_escalates_one_level(cases, settings):
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 101  # queued: the risk escalates on its own
    case = _email_case(cases, "宽带断网了，这是第三次报修了")
    assert case.escalation_level == 0
    triage_intake()
    case.refresh_from_db()
    row = Classification.objects.get(complaint=case)
    assert row.escalation_risk >= 0.85
    assert case.escalation_level == 1
    event = ComplaintEvent.objects.get(complaint=case, kind=EventKind.ESCALATED)
    assert event.payload["trigger"] == "triage_risk"
    assert event.payload["to_level"] == 1
    assert "重复投诉" in event.payload["reason"]


def test_low_risk_does_not_escalate(cases, settings):
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 101
    case = _email_case(cases, OUTAGE_TEXT)
    triage_intake()
    case.refresh_from_db()
    assert case.escalation_level == 0
    assert not ComplaintEvent.objects.filter(complaint=case, kind=EventKind.ESCALATED).exists()
