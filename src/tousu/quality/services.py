"""Writes of the quality loop: the sampling rules, scorecard versions, the weekly sampling,
inspections, appeals and their decisions. Each checks the actor's role and scope, writes, and
records a ``QualityEvent`` (who, through which channel). Reads live in ``selectors``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap, Role
from tousu.audit.configadmin import config_audit, config_snapshot
from tousu.common.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, WORKER, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.models import Complaint
from tousu.notifications.models import DeliveryStatus, Notification, Transport
from tousu.quality.models import (
    Appeal,
    Inspection,
    InspectionStatus,
    Pick,
    PickReason,
    QualityEvent,
    QualityEventKind,
    SamplingRules,
    SamplingRun,
    Scorecard,
    ScorecardVersion,
)
from tousu.quality.selectors import (
    current_rules,
    local_zone,
    week_cases,
    week_of,
    week_rule_reasons,
)
from tousu.sla.calendars import CalendarSpec, is_working_day

# Who does what in the quality loop (the case scope is checked with ``access_complaint`` too).
INSPECTING_ROLES: Final = frozenset({Role.INSPECTOR, Role.SUPERVISOR, Role.MANAGER})
SUPERVISING_ROLES: Final = frozenset({Role.SUPERVISOR, Role.MANAGER})
# Appeal deadlines count working days: Chinese public holidays and make-up working days (调休).
APPEAL_CALENDAR: Final = CalendarSpec(
    name="quality appeals", always_open=False, windows=((time(9), time(18)),), use_chinese_holidays=True
)
MAX_TEXT = 5_000


def _require_role(actor: User | None, roles: frozenset[Role], action: str) -> User:
    if actor is None or not actor.is_active or actor.role not in roles:
        raise PermissionDenied(_("Your role may not do this: %(action)s.") % {"action": action})
    return actor


def _event(
    kind: QualityEventKind,
    actor: User | None,
    origin: Origin,
    now: datetime,
    *,
    complaint_id: int | None = None,
    inspection: Inspection | None = None,
    payload: dict[str, Any] | None = None,
) -> QualityEvent:
    return QualityEvent.objects.create(
        created_at=now,
        kind=kind,
        actor=actor,
        actor_label=actor.username if actor is not None else origin.label,
        via=origin.via,
        complaint_id=complaint_id,
        inspection=inspection,
        payload=payload or {},
    )


def _inbox(user: User, key: str, subject: str, body: str, complaint_id: int, now: datetime) -> None:
    """Put a message in a staff member's inbox (delivered by being stored)."""
    Notification.objects.create(
        key=key,
        complaint_id=complaint_id,
        template="quality",
        transport=Transport.INBOX,
        recipient_user=user,
        subject=subject[:200],
        body=body,
        status=DeliveryStatus.SENT,
        next_attempt_at=now,
        created_at=now,
        sent_at=now,
    )


# -- sampling rules ------------------------------------------------------------------------------------
RULE_FIELDS: Final = (
    "random_per_agent",
    "pick_reopened",
    "pick_escalated",
    "pick_dissatisfied",
    "pick_breached",
    "pick_risk",
    "remedy_above",
    "calibration_per_week",
    "appeal_working_days",
    "seed",
)


@transaction.atomic
def sampling_rules_update(*, actor: User | None, origin: Origin = SYSTEM, **changes: Any) -> SamplingRules:
    """Change the sampling rules (supervisors and managers; ``actor=None`` only for the seed)."""
    if actor is not None or origin.kind != "command":
        _require_role(actor, SUPERVISING_ROLES, _("edit the sampling rules"))
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown rule: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    rules = SamplingRules.objects.select_for_update().order_by("pk").first() or SamplingRules()
    before = config_snapshot(rules) if rules.pk else {}
    for name, value in changes.items():
        setattr(rules, name, value)
    _validate_rules(rules)
    now = timezone.now()
    rules.updated_at = now
    rules.updated_by = actor
    created = rules.pk is None
    rules.save()
    after = config_snapshot(rules)
    config_audit(
        actor=actor,
        obj=rules,
        action="created" if created else "changed",
        before=before,
        after=after,
        origin=origin,
    )
    _event(
        QualityEventKind.RULES_CHANGED,
        actor,
        origin,
        now,
        payload={k: str(getattr(rules, k)) for k in changes},
    )
    return rules


def _validate_rules(rules: SamplingRules) -> None:
    for name in ("random_per_agent", "calibration_per_week", "appeal_working_days"):
        value = getattr(rules, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise ValidationError(_("Give a whole number from 0 to 100."), fields={name: "range"})
    if rules.appeal_working_days < 1:
        raise ValidationError(
            _("Agents need at least one working day to appeal."), fields={"appeal_working_days": "range"}
        )
    if rules.remedy_above is not None:
        try:
            amount = Decimal(str(rules.remedy_above))
        except InvalidOperation:
            raise ValidationError(
                _("Give the remedy amount in 元, e.g. 200."), fields={"remedy_above": "invalid"}
            ) from None
        if amount < 0 or amount >= Decimal("1e10"):
            raise ValidationError(
                _("Give the remedy amount in 元, e.g. 200."), fields={"remedy_above": "range"}
            )
        rules.remedy_above = amount
    rules.seed = str(rules.seed or "").strip()[:40]
    if not rules.seed:
        raise ValidationError(_("The sampling seed may not be empty."), fields={"seed": "required"})


# -- scorecards ------------------------------------------------------------------------------------------
def _clean_criteria(criteria: Any) -> list[dict[str, Any]]:
    if not isinstance(criteria, list) or not criteria:
        raise ValidationError(_("A scorecard needs at least one criterion."), fields={"criteria": "required"})
    out: list[dict[str, Any]] = []
    codes: set[str] = set()
    for item in criteria:
        if not isinstance(item, dict):
            raise ValidationError(
                _("Each criterion needs a code, a label and a weight."), fields={"criteria": "invalid"}
            )
        code = str(item.get("code", "")).strip()
        label = str(item.get("label", "")).strip()
        fatal = bool(item.get("fatal", False))
        weight = item.get("weight", 0)
        if not code or not label or code in codes:
            raise ValidationError(
                _("Each criterion needs a code of its own and a label."), fields={"criteria": "invalid"}
            )
        if (
            not isinstance(weight, int)
            or isinstance(weight, bool)
            or weight < 0
            or (not fatal and weight == 0)
        ):
            raise ValidationError(
                _("Criterion %(code)s: give a whole positive weight (fatal items weigh 0).") % {"code": code},
                fields={"criteria": "weight"},
            )
        codes.add(code)
        out.append(
            {"code": code[:40], "label": label[:200], "weight": 0 if fatal else weight, "fatal": fatal}
        )
    if not any(not c["fatal"] for c in out):
        raise ValidationError(
            _("A scorecard needs at least one weighted criterion."), fields={"criteria": "weight"}
        )
    return out


@transaction.atomic
def scorecard_publish(
    *,
    actor: User | None,
    code: str,
    name: str,
    criteria: list[dict[str, Any]],
    pass_mark: int = 80,
    origin: Origin = SYSTEM,
) -> ScorecardVersion:
    """Publish a new version of a scorecard (creating the card on its first version). Versions are
    never changed afterwards: inspections keep the version they were scored with."""
    if actor is not None or origin.kind != "command":
        _require_role(actor, SUPERVISING_ROLES, _("publish a scorecard"))
    cleaned = _clean_criteria(criteria)
    if not isinstance(pass_mark, int) or not 0 <= pass_mark <= 100:
        raise ValidationError(_("Give a pass mark from 0 to 100."), fields={"pass_mark": "range"})
    code, name = code.strip()[:40], name.strip()[:100]
    if not code or not name:
        raise ValidationError(_("A scorecard needs a code and a name."), fields={"code": "required"})
    card, _created = Scorecard.objects.select_for_update().get_or_create(code=code, defaults={"name": name})
    if card.name != name:
        card.name = name
        card.save(update_fields=["name"])
    last = card.versions.order_by("-number").first()
    now = timezone.now()
    version = ScorecardVersion.objects.create(
        scorecard=card,
        number=(last.number + 1) if last else 1,
        criteria=cleaned,
        pass_mark=pass_mark,
        published_at=now,
        published_by=actor,
    )
    _event(
        QualityEventKind.CARD_PUBLISHED,
        actor,
        origin,
        now,
        payload={"scorecard": card.code, "version": version.number},
    )
    return version


DEFAULT_CARD: Final = [
    {"code": "greeting", "label": "规范问候与身份核实", "weight": 10},
    {"code": "listening", "label": "准确记录诉求与事实", "weight": 20},
    {"code": "policy", "label": "处理符合业务规定", "weight": 25},
    {"code": "timeliness", "label": "按时响应与答复", "weight": 15},
    {"code": "reply", "label": "答复清楚：结论、依据、方案", "weight": 20},
    {"code": "follow_up", "label": "回访与闭环", "weight": 10},
    {"code": "privacy", "label": "致命项：无必要泄露用户个人信息", "weight": 0, "fatal": True},
    {"code": "promise", "label": "致命项：承诺政策不允许的事项", "weight": 0, "fatal": True},
]


def quality_defaults_install() -> None:
    """The default sampling rules and scorecard, unless there are some already (the seed)."""
    from tousu.common.origin import COMMAND

    if not SamplingRules.objects.exists():
        sampling_rules_update(actor=None, origin=COMMAND, random_per_agent=2)
    if not Scorecard.objects.exists():
        scorecard_publish(
            actor=None, origin=COMMAND, code="handling", name="投诉处理质检", criteria=DEFAULT_CARD
        )


# -- sampling --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingResult:
    run: SamplingRun
    created: bool


def _draw(seed: str, population: list[int], k: int) -> list[int]:
    """``k`` of ``population`` (sorted first), the same for the same seed on every machine."""
    ordered = sorted(population)
    return sorted(random.Random(seed).sample(ordered, min(k, len(ordered))))


def sampling_run(*, week_start: date, actor: User | None, origin: Origin = SYSTEM) -> SamplingResult:
    """Pick the cases closed in the week starting ``week_start`` (a Monday): every rule pick, plus
    a random share per agent drawn with a seed made of the rules' seed, the week and the agent, so
    a run picks the same cases again and one agent's draw does not depend on the others'. A week is
    sampled once: running it again returns the run already made."""
    if actor is not None or origin.kind not in ("worker", "command"):
        _require_role(actor, INSPECTING_ROLES, _("sample cases for inspection"))
    if week_start.weekday() != 0:
        raise ValidationError(_("A sampling week starts on a Monday."), fields={"week": "invalid"})
    if week_start + timedelta(days=7) > timezone.localdate(timezone.now(), local_zone()) + timedelta(days=1):
        raise ValidationError(
            _("This week has not ended yet: sample it once it is over."), fields={"week": "future"}
        )
    existing = SamplingRun.objects.filter(week_start=week_start).first()
    if existing is not None:
        return SamplingResult(existing, False)
    rules = current_rules()
    seed = f"{rules.seed}:{week_start.isoformat()}"
    cases = week_cases(week_start)  # {complaint id: agent id}
    reasons = week_rule_reasons(week_start, list(cases), rules)
    by_agent: dict[int, list[int]] = {}
    for cid, agent_id in cases.items():
        if cid not in reasons:
            by_agent.setdefault(agent_id, []).append(cid)
    for agent_id, pool in by_agent.items():
        for cid in _draw(f"{seed}:{agent_id}", pool, rules.random_per_agent):
            reasons[cid] = [PickReason.RANDOM.value]
    calibration = set(_draw(f"{seed}:calibration", list(reasons), rules.calibration_per_week))
    now = timezone.now()
    try:
        with transaction.atomic():
            run = SamplingRun.objects.create(
                week_start=week_start, seed=seed, ran_at=now, ran_by=actor, via=origin.via
            )
            Pick.objects.bulk_create(
                [
                    Pick(
                        run=run,
                        complaint_id=cid,
                        agent_id=cases[cid],
                        reasons=reasons[cid],
                        calibration=cid in calibration,
                    )
                    for cid in sorted(reasons)
                ]
            )
            _event(
                QualityEventKind.SAMPLED,
                actor,
                origin,
                now,
                payload={"week": week_start.isoformat(), "picks": len(reasons), "seed": seed},
            )
    except IntegrityError:  # another worker or inspector sampled the week at the same moment
        return SamplingResult(SamplingRun.objects.get(week_start=week_start), False)
    return SamplingResult(run, True)


def quality_sample_due() -> int:
    """The worker's job: sample last week once it is over. Returns the picks made (0: done already)."""
    today = timezone.localdate(timezone.now(), local_zone())
    last_week = week_of(today) - timedelta(days=7)
    if SamplingRun.objects.filter(week_start=last_week).exists():
        return 0
    result = sampling_run(week_start=last_week, actor=None, origin=WORKER)
    return result.run.picks.count() if result.created else 0


# -- inspections -----------------------------------------------------------------------------------------
def score_answers(card: ScorecardVersion, answers: dict[str, bool]) -> tuple[Decimal, list[str]]:
    """The score (0–100, one decimal) of these answers on this card, and the fatal items failed
    (any of which makes the score 0). Every criterion must be answered."""
    missing = [c["code"] for c in card.criteria if c["code"] not in answers]
    if missing:
        raise ValidationError(
            _("Score every criterion: %(codes)s is missing.") % {"codes": ", ".join(missing)},
            fields={"answers": "missing"},
        )
    fatal_failed = [c["code"] for c in card.criteria if c["fatal"] and not answers[c["code"]]]
    if fatal_failed:
        return Decimal("0.0"), fatal_failed
    total = sum(c["weight"] for c in card.criteria if not c["fatal"])
    met = sum(c["weight"] for c in card.criteria if not c["fatal"] and answers[c["code"]])
    return (Decimal(met * 100) / Decimal(total)).quantize(Decimal("0.1")), []


def appeal_deadline(submitted_at: datetime, working_days: int) -> datetime:
    """The end of the ``working_days``-th working day after the day of ``submitted_at`` (local)."""
    zone = local_zone()
    day = timezone.localtime(submitted_at, zone).date()
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(APPEAL_CALENDAR, day):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


@transaction.atomic
def inspection_submit(
    *,
    actor: User | None,
    pick_id: int,
    answers: dict[str, bool],
    comments: str = "",
    origin: Origin = SYSTEM,
) -> Inspection:
    """Score a picked case on the active scorecard's current version. The first scoring of a pick
    goes to the agent (inbox), who may appeal it; on a calibration pick a second inspector scores
    blind, and that score counts for the calibration spread only."""
    actor = _require_role(actor, INSPECTING_ROLES, _("inspect cases"))
    pick = Pick.objects.select_for_update().select_related("complaint", "agent").filter(pk=pick_id).first()
    if pick is None:
        raise NotFound(_("No such pick."))
    access_complaint(actor, pick.complaint, Cap.CASE_VIEW, origin=origin)
    if pick.agent_id == actor.pk:
        raise PermissionDenied(_("You may not inspect your own work."))
    done = list(pick.inspections.values_list("inspector_id", flat=True))
    if actor.pk in done:
        raise ConflictError(_("You have scored this case already."))
    if done and not pick.calibration:
        raise ConflictError(_("This case has been inspected already."))
    if len(done) >= 2:
        raise ConflictError(_("Two inspectors have scored this calibration case already."))
    card_row = Scorecard.objects.filter(is_active=True).order_by("code").first()
    card = card_row.current() if card_row is not None else None
    if card is None:
        raise ValidationError(_("No scorecard is in force: ask a supervisor to publish one."))
    clean = {str(k): bool(v) for k, v in answers.items() if k in {c["code"] for c in card.criteria}}
    score, fatal_failed = score_answers(card, clean)
    comments = (comments or "").strip()
    if len(comments) > MAX_TEXT:
        raise ValidationError(
            _("Comments are limited to %(n)s characters.") % {"n": MAX_TEXT}, fields={"comments": "long"}
        )
    if fatal_failed and not comments:
        raise ValidationError(
            _("Say in the comments why a fatal item failed."), fields={"comments": "required"}
        )
    now = timezone.now()
    calibration = bool(done)
    rules = current_rules()
    inspection = Inspection.objects.create(
        pick=pick,
        complaint=pick.complaint,
        agent=pick.agent,
        inspector=actor,
        card=card,
        answers=clean,
        fatal_failed=fatal_failed,
        score=score,
        final_score=score,
        comments=comments,
        is_calibration=calibration,
        submitted_at=now,
        appeal_due_at=None if calibration else appeal_deadline(now, rules.appeal_working_days),
    )
    _event(
        QualityEventKind.CALIBRATED if calibration else QualityEventKind.INSPECTED,
        actor,
        origin,
        now,
        complaint_id=pick.complaint_id,
        inspection=inspection,
        payload={"score": str(score), "fatal": fatal_failed, "card": f"{card.scorecard.code} v{card.number}"},
    )
    if not calibration:
        ticket = pick.complaint.ticket_no or f"#{pick.complaint_id}"
        _inbox(
            pick.agent,
            f"quality:{inspection.pk}:inspected:inbox:{pick.agent_id}",
            _("Quality inspection of %(ticket)s: %(score)s") % {"ticket": ticket, "score": score},
            _("Score %(score)s. %(comments)s You may appeal until %(due)s.")
            % {
                "score": score,
                "comments": comments,
                "due": f"{timezone.localtime(inspection.appeal_due_at, local_zone()):%Y-%m-%d %H:%M}",
            },
            pick.complaint_id,
            now,
        )
    return inspection


# -- appeals ---------------------------------------------------------------------------------------------
@transaction.atomic
def appeal_file(*, actor: User | None, inspection_id: int, reason: str, origin: Origin = SYSTEM) -> Appeal:
    """The agent appeals their inspection, within the working days the rules allow."""
    if actor is None or not actor.is_active:
        raise PermissionDenied(_("Only the agent whose work was inspected may appeal."))
    inspection = Inspection.objects.select_for_update().filter(pk=inspection_id).first()
    if inspection is None or inspection.agent_id != actor.pk or inspection.is_calibration:
        raise PermissionDenied(_("Only the agent whose work was inspected may appeal."))
    if inspection.status != InspectionStatus.SUBMITTED:
        raise ConflictError(_("This inspection has been appealed already."))
    now = timezone.now()
    if inspection.appeal_due_at is None or now >= inspection.appeal_due_at:
        raise ValidationError(
            _("The time to appeal ended on %(due)s.")
            % {"due": f"{timezone.localtime(inspection.appeal_due_at, local_zone()):%Y-%m-%d %H:%M}"},
            fields={"reason": "late"},
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why you appeal."), fields={"reason": "required"})
    if len(reason) > MAX_TEXT:
        raise ValidationError(
            _("The reason is limited to %(n)s characters.") % {"n": MAX_TEXT}, fields={"reason": "long"}
        )
    appeal = Appeal.objects.create(inspection=inspection, reason=reason, filed_by=actor, filed_at=now)
    inspection.status = InspectionStatus.APPEALED
    inspection.save(update_fields=["status"])
    deciders = User.objects.filter(is_active=True, role__in=SUPERVISING_ROLES).exclude(
        pk=inspection.inspector_id
    )
    same_team = deciders.filter(department=actor.department) if actor.department_id else deciders.none()
    for decider in same_team if same_team.exists() else deciders:
        _inbox(
            decider,
            f"quality:{inspection.pk}:appealed:inbox:{decider.pk}",
            _("Appeal to decide: %(agent)s, score %(score)s")
            % {"agent": actor.username, "score": inspection.score},
            reason,
            inspection.complaint_id,
            now,
        )
    _event(
        QualityEventKind.APPEALED,
        actor,
        origin,
        now,
        complaint_id=inspection.complaint_id,
        inspection=inspection,
        payload={"reason": reason[:500]},
    )
    return appeal


@transaction.atomic
def appeal_decide(
    *,
    actor: User | None,
    appeal_id: int,
    grant: bool,
    score: Decimal | str | None = None,
    note: str = "",
    origin: Origin = SYSTEM,
) -> Appeal:
    """A supervisor decides an appeal: refused (the score stands) or granted with the new score.
    The agent is told in their inbox."""
    actor = _require_role(actor, SUPERVISING_ROLES, _("decide appeals"))
    appeal = Appeal.objects.select_for_update().select_related("inspection").filter(pk=appeal_id).first()
    if appeal is None:
        raise NotFound(_("No such appeal."))
    inspection = appeal.inspection
    if appeal.decided_at is not None:
        raise ConflictError(_("This appeal has been decided already."))
    if actor.pk in (inspection.agent_id, inspection.inspector_id):
        raise PermissionDenied(_("Someone else must decide an appeal about your own work or scoring."))
    access_complaint(actor, Complaint.objects.get(pk=inspection.complaint_id), Cap.CASE_VIEW, origin=origin)
    note = (note or "").strip()[:MAX_TEXT]
    new_score: Decimal | None = None
    if grant:
        try:
            new_score = Decimal(str(score).strip()).quantize(Decimal("0.1"))
        except (InvalidOperation, ValueError):
            raise ValidationError(
                _("Give the new score, from 0 to 100."), fields={"score": "invalid"}
            ) from None
        if not Decimal(0) <= new_score <= Decimal(100):
            raise ValidationError(_("Give the new score, from 0 to 100."), fields={"score": "range"})
    if not note:
        raise ValidationError(_("Explain the decision to the agent."), fields={"note": "required"})
    now = timezone.now()
    appeal.decided_by, appeal.decided_at, appeal.granted = actor, now, grant
    appeal.decided_score, appeal.decision_note = new_score, note
    appeal.save(update_fields=["decided_by", "decided_at", "granted", "decided_score", "decision_note"])
    inspection.status = InspectionStatus.AMENDED if grant else InspectionStatus.UPHELD
    if new_score is not None:
        inspection.final_score = new_score
    inspection.save(update_fields=["status", "final_score"])
    _event(
        QualityEventKind.APPEAL_DECIDED,
        actor,
        origin,
        now,
        complaint_id=inspection.complaint_id,
        inspection=inspection,
        payload={"granted": grant, "score": str(inspection.final_score), "note": note[:500]},
    )
    _inbox(
        inspection.agent,
        f"quality:{inspection.pk}:decided:inbox:{inspection.agent_id}",
        _("Your appeal was granted: new score %(score)s") % {"score": inspection.final_score}
        if grant
        else _("Your appeal was refused: the score %(score)s stands") % {"score": inspection.final_score},
        note,
        inspection.complaint_id,
        now,
    )
    return appeal
