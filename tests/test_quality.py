"""Quality inspection (issue 16): sampling (fair shares, rule picks, reproducible), scorecard
versions, scoring and fatal items, appeals and their working-day deadline, calibration spread,
and the agent performance figures against a direct recount."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tousu.analytics.selectors import Period
from tousu.common.errors import ConflictError, PermissionDenied, ValidationError
from tousu.common.origin import COMMAND
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent, Remedy, ReturnVisit
from tousu.complaints.states import Status
from tousu.notifications.models import Notification, Transport
from tousu.quality import services as q
from tousu.quality.models import Inspection, InspectionStatus, Pick, QualityEvent, SamplingRun
from tousu.quality.performance import agent_figures
from tousu.quality.selectors import calibration_report, queue_for
from tousu.sla.models import ClockKind, SlaClock

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
WEEK = date(2026, 11, 9)  # a Monday; no public holiday that month
CARD = [
    {"code": "listen", "label": "记录诉求", "weight": 30},
    {"code": "policy", "label": "符合规定", "weight": 50},
    {"code": "reply", "label": "答复清楚", "weight": 20},
    {"code": "privacy", "label": "泄露个人信息", "weight": 0, "fatal": True},
]
ALL_MET = {"listen": True, "policy": True, "reply": True, "privacy": True}


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SH)


@pytest.fixture
def setup(people, time_machine):
    time_machine.move_to(at(WEEK - timedelta(days=7)), tick=False)
    q.sampling_rules_update(actor=people["supervisor"], random_per_agent=2, calibration_per_week=0)
    q.scorecard_publish(actor=people["supervisor"], code="handling", name="投诉处理质检", criteria=CARD)


def closed_in_week(cases, time_machine, n: int, *, fcr: bool, day: int = 1, **register) -> list[Complaint]:
    time_machine.move_to(at(WEEK + timedelta(days=day)), tick=False)
    return [cases.make(Status.CLOSED, fcr=fcr, **register) for _ in range(n)]


def fcr_by(cases, agent) -> Complaint:
    """A case the given agent registers, resolves at first contact and closes."""
    c = cases.register(actor=agent)
    svc.complaint_accept(actor=agent, complaint_id=c.pk)
    svc.complaint_reply(
        actor=agent, complaint_id=c.pk, channel="phone", content="已当场解释。", first_contact_resolution=True
    )
    svc.complaint_close(actor=agent, complaint_id=c.pk)
    return c


def sample(people, time_machine) -> SamplingRun:
    time_machine.move_to(at(WEEK + timedelta(days=8)), tick=False)
    return q.sampling_run(week_start=WEEK, actor=people["inspector"]).run


def test_each_agent_gets_their_random_share_and_a_rerun_draws_the_same(setup, cases, people, time_machine):
    agent_cases = closed_in_week(cases, time_machine, 5, fcr=True)  # the agent's own (first contact)
    handler_cases = closed_in_week(cases, time_machine, 3, fcr=False)  # the handler's (assignee)
    other = [fcr_by(cases, people["agent_other"])]
    run = sample(people, time_machine)
    picks = {p.complaint_id: (p.agent_id, p.reasons) for p in run.picks.all()}
    by_agent = {}
    for cid, (agent_id, reasons) in picks.items():
        assert reasons == ["random"]
        by_agent.setdefault(agent_id, set()).add(cid)
    assert {a: len(c) for a, c in by_agent.items()} == {
        people["agent"].pk: 2,
        people["handler"].pk: 2,
        people["agent_other"].pk: 1,
    }
    assert by_agent[people["agent"].pk] <= {c.pk for c in agent_cases}
    assert by_agent[people["handler"].pk] <= {c.pk for c in handler_cases}
    assert by_agent[people["agent_other"].pk] == {other[0].pk}
    # The same week again: the same run. Drawn afresh (the run removed): the same cases.
    assert q.sampling_run(week_start=WEEK, actor=people["inspector"]).created is False
    QualityEvent.objects.all().delete()
    Pick.objects.all().delete()
    SamplingRun.objects.all().delete()
    again = q.sampling_run(week_start=WEEK, actor=people["inspector"]).run
    assert {p.complaint_id: (p.agent_id, p.reasons) for p in again.picks.all()} == picks


def test_rule_picks_name_their_reason_and_do_not_use_the_random_share(setup, cases, people, time_machine):
    time_machine.move_to(at(WEEK + timedelta(days=1)), tick=False)
    escalated = cases.register()
    svc.complaint_accept(actor=people["agent"], complaint_id=escalated.pk)
    svc.complaint_escalate(actor=people["agent"], complaint_id=escalated.pk, reason="用户扬言投诉到工信部")
    svc.complaint_reply(
        actor=people["agent"],
        complaint_id=escalated.pk,
        channel="phone",
        content="已解释。",
        first_contact_resolution=True,
    )
    svc.complaint_close(actor=people["agent"], complaint_id=escalated.pk)
    plain = closed_in_week(cases, time_machine, 3, fcr=True)
    q.sampling_rules_update(actor=people["supervisor"], pick_escalated=True, random_per_agent=1)
    run = sample(people, time_machine)
    picks = {p.complaint_id: p.reasons for p in run.picks.all()}
    assert picks[escalated.pk] == ["escalated"]
    randoms = [cid for cid, r in picks.items() if r == ["random"]]
    assert len(randoms) == 1
    assert randoms[0] in {c.pk for c in plain}
    # With the rule off, the escalated case is only one more candidate for the random share.
    QualityEvent.objects.all().delete(), Pick.objects.all().delete(), SamplingRun.objects.all().delete()
    q.sampling_rules_update(actor=people["supervisor"], pick_escalated=False)
    assert all(p.reasons == ["random"] for p in sample(people, time_machine).picks.all())


def test_only_supervisors_edit_the_rules_and_bad_values_change_nothing(setup, people, unchanged):
    with unchanged(), pytest.raises(PermissionDenied):
        q.sampling_rules_update(actor=people["inspector"], random_per_agent=5)
    with unchanged(), pytest.raises(ValidationError):
        q.sampling_rules_update(actor=people["supervisor"], random_per_agent=-1)
    with unchanged(), pytest.raises(ValidationError):
        q.sampling_rules_update(actor=people["supervisor"], remedy_above="lots")
    rules = q.sampling_rules_update(actor=people["supervisor"], remedy_above="350")
    assert rules.remedy_above == Decimal("350")


def _one_pick(cases, people, time_machine) -> Pick:
    closed_in_week(cases, time_machine, 1, fcr=True)
    return sample(people, time_machine).picks.get()


def test_scores_are_weighted_and_a_fatal_item_scores_zero(setup, cases, people, time_machine, unchanged):
    pick = _one_pick(cases, people, time_machine)
    assert q.score_answers(pick_card(), ALL_MET) == (Decimal("100.0"), [])
    assert q.score_answers(pick_card(), {**ALL_MET, "policy": False}) == (Decimal("50.0"), [])
    assert q.score_answers(pick_card(), {**ALL_MET, "reply": False, "listen": False}) == (Decimal("50.0"), [])
    with unchanged(), pytest.raises(ValidationError, match="comments"):
        q.inspection_submit(actor=people["inspector"], pick_id=pick.pk, answers={**ALL_MET, "privacy": False})
    with unchanged(), pytest.raises(ValidationError, match="reply"):
        q.inspection_submit(actor=people["inspector"], pick_id=pick.pk, answers={"listen": True})
    with unchanged(), pytest.raises(PermissionDenied):
        q.inspection_submit(actor=people["agent_other"], pick_id=pick.pk, answers=ALL_MET)
    inspection = q.inspection_submit(
        actor=people["inspector"],
        pick_id=pick.pk,
        answers={**ALL_MET, "privacy": False},
        comments="念出了完整身份证号",
    )
    assert (inspection.score, inspection.fatal_failed) == (Decimal("0.0"), ["privacy"])
    note = Notification.objects.get(recipient_user=people["agent"], transport=Transport.INBOX)
    assert note.subject == f"Quality inspection of {pick.complaint.ticket_no}: 0.0"
    assert "念出了完整身份证号" in note.body
    with pytest.raises(ConflictError):
        q.inspection_submit(actor=people["supervisor"], pick_id=pick.pk, answers=ALL_MET)


def pick_card():
    from tousu.quality.models import Scorecard

    return Scorecard.objects.get(code="handling").current()


def test_old_inspections_keep_the_card_version_they_were_scored_with(setup, cases, people, time_machine):
    closed_in_week(cases, time_machine, 2, fcr=True)
    q.sampling_rules_update(actor=people["supervisor"], random_per_agent=2)
    first, second = sample(people, time_machine).picks.order_by("id")
    old = q.inspection_submit(
        actor=people["inspector"], pick_id=first.pk, answers={**ALL_MET, "reply": False}
    )
    v2 = q.scorecard_publish(
        actor=people["supervisor"],
        code="handling",
        name="投诉处理质检",
        criteria=[{"code": "reply", "label": "答复清楚", "weight": 100}],
    )
    assert v2.number == 2
    new = q.inspection_submit(actor=people["inspector"], pick_id=second.pk, answers={"reply": False})
    old.refresh_from_db()
    assert (old.card.number, old.score) == (1, Decimal("80.0"))
    assert old.card.criteria == [{"fatal": False, **c} for c in CARD]
    assert (new.card.number, new.score) == (2, Decimal("0.0"))


def test_the_agent_appeals_within_the_working_days_and_a_supervisor_decides(
    setup, cases, people, time_machine, unchanged
):
    pick = _one_pick(cases, people, time_machine)
    time_machine.move_to(datetime(2026, 11, 13, 10, tzinfo=SH), tick=False)  # a Friday
    inspection = q.inspection_submit(
        actor=people["inspector"],
        pick_id=pick.pk,
        answers={**ALL_MET, "policy": False},
        comments="未核实账单",
    )
    # 3 working days: Monday 16, Tuesday 17, Wednesday 18 → until Thursday 19 00:00 (Shanghai).
    assert inspection.appeal_due_at == datetime(2026, 11, 18, 16, tzinfo=UTC)
    with unchanged(), pytest.raises(PermissionDenied):
        q.appeal_file(actor=people["agent_other"], inspection_id=inspection.pk, reason="不服")
    time_machine.move_to(datetime(2026, 11, 19, 0, 0, tzinfo=SH), tick=False)
    with unchanged(), pytest.raises(ValidationError, match="ended"):
        q.appeal_file(actor=people["agent"], inspection_id=inspection.pk, reason="不服")
    time_machine.move_to(datetime(2026, 11, 18, 23, 59, tzinfo=SH), tick=False)
    appeal = q.appeal_file(
        actor=people["agent"], inspection_id=inspection.pk, reason="已按规定核实账单，见录音"
    )
    inspection.refresh_from_db()
    assert inspection.status == InspectionStatus.APPEALED
    # The supervisors of the agent's team are told (not the inspector, not other teams' managers).
    told = Notification.objects.filter(subject__startswith="Appeal to decide").values_list(
        "recipient_user__username", "subject"
    )
    assert list(told) == [("supervisor", "Appeal to decide: agent, score 50.0")]
    with unchanged(), pytest.raises(PermissionDenied):
        q.appeal_decide(actor=people["inspector"], appeal_id=appeal.pk, grant=False, note="x")
    with unchanged(), pytest.raises(ValidationError):
        q.appeal_decide(actor=people["supervisor"], appeal_id=appeal.pk, grant=True, score="120", note="x")
    q.appeal_decide(
        actor=people["supervisor"], appeal_id=appeal.pk, grant=True, score="100", note="录音证实已核实"
    )
    inspection.refresh_from_db()
    assert (inspection.status, inspection.score, inspection.final_score) == (
        InspectionStatus.AMENDED,
        Decimal("50.0"),
        Decimal("100.0"),
    )
    assert list(
        QualityEvent.objects.filter(inspection=inspection).values_list("kind", "actor__username")
    ) == [
        ("inspected", "inspector"),
        ("appealed", "agent"),
        ("appeal_decided", "supervisor"),
    ]
    assert Notification.objects.filter(recipient_user=people["agent"]).count() == 2
    with pytest.raises(ConflictError):
        q.appeal_decide(actor=people["manager"], appeal_id=appeal.pk, grant=False, note="再议")


def test_calibration_scores_are_blind_and_their_spread_is_reported(setup, cases, people, time_machine):
    closed_in_week(cases, time_machine, 1, fcr=True)
    q.sampling_rules_update(actor=people["supervisor"], calibration_per_week=1)
    pick = sample(people, time_machine).picks.get()
    assert pick.calibration is True
    q.inspection_submit(actor=people["inspector"], pick_id=pick.pk, answers=ALL_MET)
    assert list(queue_for(people["inspector"])) == []
    assert list(queue_for(people["supervisor"])) == [pick]  # still waiting for a second, blind score
    second = q.inspection_submit(
        actor=people["supervisor"], pick_id=pick.pk, answers={**ALL_MET, "listen": False}
    )
    assert second.is_calibration is True
    assert second.appeal_due_at is None
    assert Notification.objects.filter(recipient_user=people["agent"]).count() == 1  # the first only
    rows, average = calibration_report()
    assert [(r.pick.pk, r.scores, r.spread) for r in rows] == [
        (pick.pk, [("inspector", Decimal("100.0")), ("supervisor", Decimal("70.0"))], Decimal("30.0"))
    ]
    assert average == Decimal("30.0")
    with pytest.raises(ConflictError):
        q.inspection_submit(actor=people["manager"], pick_id=pick.pk, answers=ALL_MET)


def test_the_worker_samples_last_week_once(setup, cases, people, time_machine):
    closed_in_week(cases, time_machine, 3, fcr=True)
    time_machine.move_to(at(WEEK + timedelta(days=9)), tick=False)
    assert q.quality_sample_due() == 2
    assert q.quality_sample_due() == 0
    assert SamplingRun.objects.get().via == "worker"


def test_the_seed_installs_the_default_rules_and_card_once(db):
    q.quality_defaults_install()
    q.quality_defaults_install()
    from tousu.quality.models import SamplingRules, Scorecard

    assert SamplingRules.objects.count() == 1
    assert [(c.code, c.current().number) for c in Scorecard.objects.all()] == [("handling", 1)]
    assert COMMAND.via == "command"


def test_performance_figures_equal_a_direct_recount(setup, cases, people, time_machine):
    closed_in_week(cases, time_machine, 2, fcr=True)  # the agent: first-contact resolutions
    full = closed_in_week(cases, time_machine, 2, fcr=False, day=2)  # the handler: dispatched, visited
    time_machine.move_to(at(WEEK + timedelta(days=3)), tick=False)
    cases.make(Status.REOPENED)  # the handler: a dissatisfied visit, reopened
    awaiting = cases.make(Status.AWAITING_APPROVAL)  # a remedy of 100 waiting for a supervisor
    svc.remedy_decide(
        actor=people["supervisor"], remedy_id=Remedy.objects.get(complaint=awaiting).pk, approve=True
    )
    run = sample(people, time_machine)
    p = run.picks.filter(agent=people["handler"]).first()
    q.inspection_submit(actor=people["inspector"], pick_id=p.pk, answers={**ALL_MET, "reply": False})
    period = Period.containing("month", WEEK)
    ids = [people["agent"].pk, people["handler"].pk]
    figures = agent_figures(period, ids)

    start, end = at(period.start, 0), at(period.end, 0)
    for uid in ids:

        def mine(c: Complaint, uid: int = uid) -> bool:
            return (c.assignee_id or c.first_contact_owner_id or c.registered_by_id) == uid

        all_cases = [c for c in Complaint.objects.all() if mine(c)]
        closed = [c for c in all_cases if c.closed_at and start <= c.closed_at < end]
        replied = [c for c in all_cases if c.replied_at and start <= c.replied_at < end and c.accepted_at]
        clocks = [
            k
            for k in SlaClock.objects.filter(kind=ClockKind.REPLY)
            if mine(k.complaint)
            and (
                (k.met_at and not k.breached_at and start <= k.met_at < end)
                or (k.breached_at and start <= k.breached_at < end)
            )
        ]
        reopened = {
            e.complaint_id
            for e in ComplaintEvent.objects.filter(kind="reopened")
            if mine(e.complaint) and start <= e.created_at < end
        }
        visits = [
            v
            for v in ReturnVisit.objects.filter(reached=True)
            if mine(v.complaint) and start <= v.visited_at < end
        ]
        remedies = [
            r
            for r in Remedy.objects.filter(status="approved")
            if mine(r.complaint) and start <= r.decided_at < end
        ]
        scores = [i.final_score for i in Inspection.objects.filter(agent_id=uid, is_calibration=False)]
        f = figures[uid]
        assert f.handled == len(closed)
        assert f.first_contact == sum(c.is_first_contact_resolution for c in closed)
        assert f.replied == len(replied)
        assert f.handling_seconds == sum(int((c.replied_at - c.accepted_at).total_seconds()) for c in replied)
        assert (f.reply_clocks, f.reply_met) == (len(clocks), sum(not k.breached_at for k in clocks))
        assert f.reopened == len(reopened)
        assert (f.visits_reached, f.visits_satisfied) == (
            len(visits),
            sum((v.satisfaction or 0) >= 4 for v in visits),
        )
        assert (f.remedies, f.remedies_yuan) == (len(remedies), sum((r.amount for r in remedies), Decimal(0)))
        assert (
            f.qa_score == (sum(scores) / len(scores)).quantize(Decimal("0.1"))
            if scores
            else f.qa_score is None
        )
    # The figures are not trivially zero: the seeded history shows in them.
    agent, handler = figures[people["agent"].pk], figures[people["handler"].pk]
    assert (agent.handled, agent.first_contact, agent.fcr) == (2, 2, 100.0)
    assert (handler.handled, handler.reopened, handler.visits_reached, handler.visits_satisfied) == (
        2,
        1,
        3,
        2,
    )
    assert (handler.remedies, handler.remedies_yuan, handler.qa_score) == (
        1,
        Decimal("100.00"),
        Decimal("80.0"),
    )
    assert handler.reopen_rate == 50.0
    assert handler.satisfaction == pytest.approx(200 / 3)
    assert full[0].pk != awaiting.pk


def test_every_rule_picks_its_cases(setup, cases, people, time_machine, settings):
    from tousu.complaints.services.deadlines import sla_breach
    from tousu.sla.defaults import sla_bootstrap
    from tousu.triage.models import Classification

    sla_bootstrap()
    time_machine.move_to(at(WEEK), tick=False)
    late = cases.register()  # accepted after its deadline
    time_machine.move_to(at(WEEK + timedelta(days=1)), tick=False)
    sla_breach()
    assert SlaClock.objects.filter(complaint=late, breached_at__isnull=False).exists()
    svc.complaint_accept(actor=people["agent"], complaint_id=late.pk)
    svc.complaint_reply(
        actor=people["agent"],
        complaint_id=late.pk,
        channel="phone",
        content="已解释。",
        first_contact_resolution=True,
    )
    svc.complaint_close(actor=people["agent"], complaint_id=late.pk)
    reopened = cases.make(Status.REOPENED)  # a dissatisfied return visit reopened it
    h = people["handler"]
    svc.complaint_investigate(actor=h, complaint_id=reopened.pk)
    cases.plan(reopened)
    svc.complaint_reply(actor=h, complaint_id=reopened.pk, channel="sms", content="再次核查，已退费。")
    svc.return_visit_record(
        actor=people["visitor"], complaint_id=reopened.pk, reached=True, resolved=True, satisfaction=4
    )
    svc.complaint_close(actor=people["visitor"], complaint_id=reopened.pk)
    paid = cases.make(Status.AWAITING_APPROVAL)  # a remedy of 100 元
    remedy = Remedy.objects.get(complaint=paid)
    svc.remedy_decide(actor=people["supervisor"], remedy_id=remedy.pk, approve=True)
    svc.complaint_reply(actor=h, complaint_id=paid.pk, channel="sms", content="已补偿100元。")
    svc.return_visit_record(
        actor=people["visitor"], complaint_id=paid.pk, reached=True, resolved=True, satisfaction=5
    )
    svc.complaint_close(actor=people["visitor"], complaint_id=paid.pk)
    risky = cases.make(Status.CLOSED, fcr=True)
    Classification.objects.create(
        complaint=risky,
        model_version="test",
        category="billing",
        subcategory="billing-wrong-charge",
        level="dissatisfied",
        escalation_risk=settings.TOUSU_TRIAGE_ESCALATION_RISK / 100,
        confidence=0.9,
        outcome="confirmed",
        created_at=at(WEEK + timedelta(days=1)),
    )
    q.sampling_rules_update(actor=people["supervisor"], random_per_agent=0, remedy_above="99.99")
    picks = {p.complaint_id: p.reasons for p in sample(people, time_machine).picks.all()}
    assert picks == {
        late.pk: ["escalated", "breached"],  # the breach escalated it too
        reopened.pk: ["reopened", "escalated", "dissatisfied"],  # the visit escalated it too
        paid.pk: ["remedy"],
        risky.pk: ["risk"],
    }
    # Above the amount only: a threshold of exactly 100 元 no longer picks the remedy.
    QualityEvent.objects.all().delete(), Pick.objects.all().delete(), SamplingRun.objects.all().delete()
    q.sampling_rules_update(actor=people["supervisor"], remedy_above="100")
    assert paid.pk not in set(sample(people, time_machine).picks.values_list("complaint_id", flat=True))
