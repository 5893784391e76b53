"""SLA clocks: every default clock of DOMAIN.md started, paused, met and breached, with exact
times; warnings and breaches exactly once; escalation triggers; explanations; audited edits."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tousu.accounts.models import Region
from tousu.audit.models import AuditEvent
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.complaints import services as svc
from tousu.complaints.models import ComplaintEvent, Remedy
from tousu.complaints.services.deadlines import sla_breach, sla_recompute, sla_sweep, sla_warn
from tousu.complaints.states import Status
from tousu.notifications.models import Notification
from tousu.notifications.services import outbox_dispatch
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import SlaBreach, SlaClock, SlaPolicy
from tousu.sla.selectors import sla_explain
from tousu.sla.services import sla_policy_update

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def sla(org):
    sla_bootstrap()


@pytest.fixture
def clock_at(time_machine):
    def move(moment: datetime) -> None:
        time_machine.move_to(moment, tick=False)

    move(T0)
    return move


def clocks(c) -> dict[str, SlaClock]:
    return {k.kind: k for k in SlaClock.objects.filter(complaint=c).order_by("cycle")}


def events(c, kind: str) -> list[dict]:
    return list(
        ComplaintEvent.objects.filter(complaint=c, kind=kind).order_by("id").values_list("payload", flat=True)
    )


class TestFirstResponse:
    @pytest.mark.parametrize(
        ("level", "minutes", "penalty", "escalated_at_once", "after_breach"),
        [
            ("dissatisfied", 30, "20.00", 0, 1),
            ("very_dissatisfied", 20, "30.00", 0, 1),
            ("major", 10, "50.00", 2, 3),
            ("crisis", 10, "80.00", 3, 3),
        ],
    )
    def test_started_by_level_and_breached_with_the_level_penalty(
        self, sla, cases, clock_at, level, minutes, penalty, escalated_at_once, after_breach
    ):
        c = cases.register(level=level)
        clock = clocks(c)["first_response"]
        assert (clock.state, clock.started_at, clock.due_at) == (
            "running",
            T0,
            T0 + timedelta(minutes=minutes),
        )
        assert clock.warn_at == T0 + timedelta(minutes=minutes / 2)
        assert cases.reload(c).escalation_level == escalated_at_once
        clock_at(T0 + timedelta(minutes=minutes) - timedelta(seconds=1))
        assert sla_breach() == 0
        clock_at(T0 + timedelta(minutes=minutes))
        assert sla_breach() == 1
        breach = SlaBreach.objects.get()
        assert (breach.kind, breach.level, breach.penalty, breach.person, breach.due_at) == (
            "first_response",
            level,
            Decimal(penalty),
            cases.p["agent"],
            T0 + timedelta(minutes=minutes),
        )
        assert breach.department == cases.org["dept"]["customer_service"]
        clock.refresh_from_db()
        assert (clock.state, clock.breached_at) == ("breached", T0 + timedelta(minutes=minutes))
        assert cases.reload(c).escalation_level == after_breach
        assert sla_breach() == 0  # never twice
        assert SlaBreach.objects.count() == 1

    def test_met_by_acceptance(self, sla, cases, clock_at):
        c = cases.register()
        clock_at(T0 + timedelta(minutes=12))
        svc.complaint_accept(actor=cases.p["agent"], complaint_id=c.pk)
        clock = clocks(c)["first_response"]
        assert (clock.state, clock.met_at, clock.ended_at) == (
            "met",
            T0 + timedelta(minutes=12),
            T0 + timedelta(minutes=12),
        )
        clock_at(T0 + timedelta(hours=1))
        assert sla_breach() == 0

    def test_met_late_keeps_the_breach_and_records_when(self, sla, cases, clock_at):
        c = cases.register()
        clock_at(T0 + timedelta(minutes=45))
        sla_sweep()
        svc.complaint_accept(actor=cases.p["agent"], complaint_id=c.pk)
        clock = clocks(c)["first_response"]
        assert (clock.state, clock.breached_at, clock.met_at) == (
            "breached",
            T0 + timedelta(minutes=30),
            T0 + timedelta(minutes=45),
        )


def test_warning_once_then_notifies_the_responsible_person_and_supervisors(sla, cases, people, clock_at):
    c = cases.register()
    clock_at(T0 + timedelta(minutes=14, seconds=59))
    assert sla_warn() == 0
    clock_at(T0 + timedelta(minutes=15))
    assert sla_warn() == 1
    assert sla_warn() == 0
    assert events(c, "sla_warning") == [
        {
            "clock": "first_response",
            "cycle": 1,
            "due_at": (T0 + timedelta(minutes=30)).astimezone(ZoneInfo("UTC")).isoformat(),
        }
    ]
    outbox_dispatch()
    inbox = Notification.objects.filter(template="staff_sla_warning").order_by("recipient_user__username")
    assert [n.recipient_user.username for n in inbox] == ["agent", "supervisor"]
    # Staff messages are written in the installation's language (LANGUAGE_CODE), not the test's.
    assert (inbox[0].language, inbox[0].body) == (
        "zh-hans",
        f"投诉 #{c.pk} 的“首次响应”时限将于 2026-11-23 10:30 到期，请尽快处理。",
    )


def test_second_response_runs_from_dispatch_and_pauses_while_awaiting_the_customer(
    sla, cases, people, clock_at
):
    c = cases.make(Status.DISPATCHED)
    clock = clocks(c)["second_response"]
    assert (clock.started_at, clock.due_at) == (T0, T0 + timedelta(hours=24))
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk)
    clock_at(T0 + timedelta(hours=2))
    svc.complaint_request_info(actor=people["handler"], complaint_id=c.pk, question="请配合线路测试")
    for kind, clock in clocks(c).items():
        if kind in ("second_response", "reply"):
            assert (clock.state, clock.paused_at) == ("paused", T0 + timedelta(hours=2)), kind
    clock_at(T0 + timedelta(hours=30))
    assert sla_breach() == 0  # paused clocks never breach
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk, note="用户已配合测试")
    second = clocks(c)["second_response"]
    assert (second.state, second.paused_seconds) == ("running", 28 * 3600)
    assert second.due_at == T0 + timedelta(hours=24 + 28)
    reply = clocks(c)["reply"]
    assert reply.due_at == T0 + timedelta(days=15, hours=28)
    cases.plan(c)
    assert clocks(c)["second_response"].state == "met"


def test_reply_within_15_days_is_met_by_the_reply_and_breached_after(sla, cases, people, clock_at):
    met = cases.make(Status.PLAN_PROPOSED)
    late = cases.make(Status.INVESTIGATING, phone="13912340000")
    assert clocks(late)["reply"].due_at == at(2026, 12, 8, 10, 0)
    svc.complaint_reply(actor=people["handler"], complaint_id=met.pk, channel="sms", content="已退费")
    assert clocks(met)["reply"].state == "met"
    clock_at(at(2026, 12, 8, 10, 0))
    sla_sweep()
    assert clocks(late)["reply"].state == "breached"
    assert SlaBreach.objects.get(kind="reply").person == people["handler"]
    assert SlaBreach.objects.get(kind="reply").department == cases.org["dept"]["billing"]


@pytest.mark.parametrize(("rural", "hours"), [(True, 72), (False, 48), (None, 48)])
def test_fault_repair_limit_depends_on_the_area(sla, cases, org, clock_at, rural, hours):
    region = None
    if rural is not None:
        region = Region.objects.create(code=f"r{rural}", name="区域", is_rural=rural)
    c = cases.register(category_id=org["outage"].pk, region_id=region.pk if region else None)
    assert clocks(c)["repair"].due_at == T0 + timedelta(hours=hours)


def test_regulator_referral_counts_working_days_across_national_day(sla, cases, clock_at):
    clock_at(at(2026, 9, 29, 10, 0))  # Tuesday before the National Day holiday
    c = cases.register(channel="regulator")
    accept, answer = clocks(c)["regulator_accept"], clocks(c)["regulator_answer"]
    # 14 h of 29 Sep and all of 30 Sep count; 1–7 Oct are the holiday; 8, 9 and 10 Oct (a make-up
    # working Saturday) count; Sunday 11 Oct does not; the last 10 h run out on 12 Oct at 10:00.
    assert accept.due_at == at(2026, 10, 12, 10, 0)
    assert answer.due_at == at(2026, 10, 29, 10, 0)
    svc.complaint_accept(actor=cases.p["agent"], complaint_id=c.pk)
    assert clocks(c)["regulator_accept"].state == "met"


def test_return_visit_clock_ignores_unreached_attempts(sla, cases, people, clock_at):
    c = cases.make(Status.REPLIED)
    clock = clocks(c)["return_visit"]
    assert clock.due_at == T0 + timedelta(days=3)
    svc.return_visit_record(actor=people["visitor"], complaint_id=c.pk, reached=False)
    assert clocks(c)["return_visit"].state == "running"
    svc.return_visit_record(
        actor=people["visitor"], complaint_id=c.pk, reached=True, resolved=True, satisfaction=5
    )
    assert clocks(c)["return_visit"].state == "met"


def test_return_visit_breach_does_not_escalate(sla, cases, clock_at):
    c = cases.make(Status.REPLIED)
    level = c.escalation_level
    clock_at(T0 + timedelta(days=3))
    sla_sweep()
    assert clocks(c)["return_visit"].state == "breached"
    assert cases.reload(c).escalation_level == level


def test_remedy_approval_counts_working_hours(sla, cases, people, clock_at):
    clock_at(at(2026, 11, 27, 16, 0))  # Friday 16:00: 2 h left today, then Monday 09:00–11:00
    c = cases.make(Status.PLAN_PROPOSED)
    svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="200")
    clock = clocks(c)["remedy_approval"]
    assert clock.due_at == at(2026, 11, 30, 11, 0)
    svc.remedy_decide(actor=people["supervisor"], remedy_id=Remedy.objects.get().pk, approve=True)
    assert clocks(c)["remedy_approval"].state == "met"


def test_withdrawal_cancels_running_clocks(sla, cases, clock_at):
    c = cases.make(Status.WITHDRAWN)
    assert {k: v.state for k, v in clocks(c).items()} == {"first_response": "met", "reply": "cancelled"}


def test_reopen_starts_a_new_cycle(sla, cases, people, clock_at):
    c = cases.make(Status.REOPENED)
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk)
    svc.complaint_dispatch(
        actor=people["supervisor"], complaint_id=c.pk, lead_department_id=cases.org["dept"]["network"].pk
    )
    rows = list(SlaClock.objects.filter(complaint=c, kind="second_response").values_list("cycle", "state"))
    assert rows == [(1, "met"), (2, "running")]


class TestEscalationTriggers:
    def test_major_and_crisis_escalate_at_registration(self, sla, cases):
        assert cases.register(level="major").escalation_level == 2
        crisis = cases.register(level="crisis", phone="13912340000")
        assert crisis.escalation_level == 3
        assert events(crisis, "escalated")[0]["trigger"] == "level_crisis"

    def test_threat_flag_escalates_to_the_configured_level(self, sla, cases, people, settings):
        settings.TOUSU_THREAT_ESCALATION_LEVEL = 2
        c = cases.make(Status.INVESTIGATING)
        svc.complaint_flag_threat(actor=people["handler"], complaint_id=c.pk, note="用户称要向工信部投诉")
        c = cases.reload(c)
        assert (c.threatens_external, c.escalation_level) == (True, 2)
        assert events(c, "escalated")[-1]["trigger"] == "threat"
        assert cases.register(threatens_external=True, phone="13912340000").escalation_level == 2

    def test_raising_the_level_escalates(self, sla, cases, people):
        c = cases.make(Status.INVESTIGATING)
        svc.complaint_change_level(
            actor=people["handler"], complaint_id=c.pk, level="crisis", reason="群体性投诉风险"
        )
        c = cases.reload(c)
        assert (c.level, c.escalation_level) == ("crisis", 3)
        assert events(c, "level_changed") == [
            {"from": "dissatisfied", "to": "crisis", "reason": "群体性投诉风险"}
        ]


class TestExplain:
    def test_running_and_paused_clocks_are_explained(self, sla, cases, people, clock_at):
        c = cases.make(Status.AWAITING_CUSTOMER)
        clock_at(T0 + timedelta(hours=1))
        views = {v.kind: v for v in sla_explain(complaint=c)}
        assert views["first_response"].state == "met"
        assert views["first_response"].remaining is None
        reply = views["reply"]
        assert (reply.state, reply.remaining, reply.paused) == (
            "paused",
            timedelta(days=15),
            timedelta(hours=1),
        )
        assert "paused 1h 0min of business time" in reply.explanation
        assert "every hour of every day" in reply.explanation

    def test_overdue_clock_shows_negative_remaining(self, sla, cases, clock_at):
        c = cases.register()
        clock_at(T0 + timedelta(minutes=40))
        view = next(v for v in sla_explain(complaint=c) if v.kind == "first_response")
        assert view.remaining == -timedelta(minutes=10)

    def test_period_without_holiday_data_is_flagged(self, sla, cases, clock_at):
        clock_at(at(2026, 12, 28, 10, 0))
        c = cases.register(channel="regulator")
        view = next(v for v in sla_explain(complaint=c) if v.kind == "regulator_accept")
        assert view.uses_fallback is True
        assert "Monday to Friday were counted as working days" in view.explanation


class TestPolicyEdits:
    def test_edit_is_audited_and_applies_to_new_cases_only(self, sla, cases, people, clock_at):
        old = cases.register()
        policy = SlaPolicy.objects.get(clock="first_response", match_levels=["dissatisfied"])
        sla_policy_update(actor=people["supervisor"], policy_id=policy.pk, changes={"target_minutes": 45})
        audit = AuditEvent.objects.get(kind="config.changed", object_type="sla_policy")
        assert audit.payload == {"before": {"target_minutes": 30}, "after": {"target_minutes": 45}}
        assert audit.actor == people["supervisor"]
        new = cases.register(phone="13912340000")
        assert clocks(old)["first_response"].due_at == T0 + timedelta(minutes=30)
        assert clocks(new)["first_response"].due_at == T0 + timedelta(minutes=45)
        assert sla_recompute(actor=people["supervisor"]) == 1
        assert clocks(old)["first_response"].due_at == T0 + timedelta(minutes=45)

    def test_refused_edits_change_nothing(self, sla, people, unchanged):
        policy = SlaPolicy.objects.get(clock="reply")
        with unchanged(), pytest.raises(PermissionDenied):
            sla_policy_update(actor=people["agent"], policy_id=policy.pk, changes={"target_minutes": 1})
        with unchanged(), pytest.raises(ValidationError) as err:
            sla_policy_update(
                actor=people["supervisor"], policy_id=policy.pk, changes={"stop_on": ["nonsense"]}
            )
        assert err.value.fields == {"stop_on": "unknown event"}
        with unchanged(), pytest.raises(ValidationError):
            sla_policy_update(actor=people["supervisor"], policy_id=policy.pk, changes={"clock": "reply"})


def test_breach_can_reassign_to_another_department(sla, cases, people, org, clock_at):
    policy = SlaPolicy.objects.get(clock="second_response")
    sla_policy_update(
        actor=people["supervisor"],
        policy_id=policy.pk,
        changes={"reassign_department_id": org["dept"]["management"].pk},
    )
    c = cases.make(Status.INVESTIGATING)
    clock_at(T0 + timedelta(hours=24))
    sla_sweep()
    c = cases.reload(c)
    assert (c.status, c.lead_department, c.assignee) == (Status.DISPATCHED, org["dept"]["management"], None)
    assert events(c, "dispatched")[-1]["note"] == "Reassigned after a missed deadline: Second response."


def test_sweep_without_due_clocks_does_nothing(sla, cases, unchanged, clock_at):
    cases.register()
    with unchanged():
        assert sla_sweep() == 0


def test_timezone_of_due_times_is_utc(sla, cases, clock_at):
    c = cases.register()
    assert clocks(c)["first_response"].due_at.utcoffset() == timedelta(0)
    assert timezone.localtime(clocks(c)["first_response"].due_at).hour == 10


def test_rebuild_from_history_gives_the_clocks_live_handling_gives(org, cases, people, clock_at):
    def walk(phone: str):
        c = cases.make(Status.DISPATCHED, phone=phone)
        clock_at(T0 + timedelta(hours=1))
        svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk)
        svc.complaint_request_info(actor=people["handler"], complaint_id=c.pk, question="请提供截图")
        clock_at(T0 + timedelta(hours=5))
        svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk, note="已提供")
        clock_at(T0)
        return c

    history = walk("13912340000")  # handled before any policy existed: no clocks
    assert not SlaClock.objects.exists()
    sla_bootstrap()
    live = walk("13912340001")
    from tousu.complaints.services.deadlines import sla_rebuild

    assert sla_rebuild(complaint_ids=[history.pk, live.pk]) == 3  # the live case already has its clocks

    def shape(c):
        return list(
            SlaClock.objects.filter(complaint=c)
            .order_by("kind")
            .values_list("kind", "cycle", "state", "started_at", "due_at", "met_at", "paused_seconds")
        )

    assert shape(history) == shape(live)
    assert [row[0] for row in shape(live)] == ["first_response", "reply", "second_response"]
    assert (
        cases.reload(history).next_due_at == cases.reload(live).next_due_at == T0 + timedelta(hours=28)
    )  # 24 h + 4 h waiting


def test_next_due_follows_the_running_clocks(sla, cases, people, clock_at):
    c = cases.register()
    assert cases.reload(c).next_due_at == T0 + timedelta(minutes=30)  # first response
    svc.complaint_accept(actor=people["agent"], complaint_id=c.pk)
    assert cases.reload(c).next_due_at == T0 + timedelta(days=15)  # the reply
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=c.pk, lead_department_id=cases.org["dept"]["billing"].pk
    )
    assert cases.reload(c).next_due_at == T0 + timedelta(hours=24)  # second response
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk)
    svc.complaint_request_info(actor=people["handler"], complaint_id=c.pk, question="请提供截图")
    assert cases.reload(c).next_due_at is None  # every clock waits with the case
    clock_at(T0 + timedelta(hours=2))
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk, note="已提供")
    assert cases.reload(c).next_due_at == T0 + timedelta(hours=26)
    clock_at(T0 + timedelta(hours=26))
    sla_sweep()
    # The missed second response is still owed: the case keeps that deadline, now past (the
    # queues put it first, as overdue), until the plan meets it late.
    assert cases.reload(c).next_due_at == T0 + timedelta(hours=26)
    clock_at(T0 + timedelta(hours=27))
    svc.complaint_propose_plan(
        actor=people["handler"],
        complaint_id=c.pk,
        kind="immediate",
        measures="核实后退费",
        responsible_id=people["handler"].pk,
        deadline=T0 + timedelta(days=2),
    )
    assert cases.reload(c).next_due_at == T0 + timedelta(days=15, hours=2)  # the reply


@pytest.mark.parametrize(
    ("kind", "build", "limit", "meet"),
    [
        ("repair", "outage", timedelta(hours=48), "reply"),
        ("regulator_accept", "regulator", None, "accept"),
        ("regulator_answer", "regulator", timedelta(days=30), "reply"),
        ("remedy_approval", "remedy", None, "decide"),
    ],
)
def test_other_default_clocks_are_met_and_breached(
    sla, cases, people, org, clock_at, kind, build, limit, meet
):
    """Each of these clocks is met by its event on one case, and breached with a penalty on another."""

    def start(phone: str):
        if build == "outage":
            return cases.make(Status.PLAN_PROPOSED, category_id=org["outage"].pk, phone=phone)
        if build == "regulator":
            c = cases.register(channel="regulator", phone=phone)
            if meet == "reply":
                svc.complaint_accept(actor=people["agent"], complaint_id=c.pk)
                svc.complaint_investigate(actor=people["agent"], complaint_id=c.pk)
                svc.complaint_propose_plan(
                    actor=people["agent"],
                    complaint_id=c.pk,
                    kind="immediate",
                    measures="核实后答复",
                    responsible_id=people["agent"].pk,
                    deadline=T0 + timedelta(days=2),
                )
            return c
        c = cases.make(Status.PLAN_PROPOSED, phone=phone)
        svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="200")
        return c

    met, late = start("13912340000"), start("13912340001")
    assert clocks(met)[kind].state == "running"
    if limit is not None:
        assert clocks(met)[kind].due_at == T0 + limit
    if meet == "reply":
        replier = people["agent"] if build == "regulator" else people["handler"]  # who holds the case
        svc.complaint_reply(actor=replier, complaint_id=met.pk, channel="sms", content="已处理")
    elif meet == "accept":
        svc.complaint_accept(actor=people["agent"], complaint_id=met.pk)
    else:
        svc.remedy_decide(
            actor=people["supervisor"], remedy_id=Remedy.objects.get(complaint=met).pk, approve=True
        )
    assert clocks(met)[kind].state == "met"
    clock_at(clocks(late)[kind].due_at)
    sla_breach()
    assert clocks(late)[kind].state == "breached"
    breach = SlaBreach.objects.get(kind=kind)
    assert (breach.complaint_id, breach.penalty) == (late.pk, Decimal("20.00"))
    assert not SlaBreach.objects.filter(complaint=met, kind=kind).exists()
