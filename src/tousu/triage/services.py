"""Triage services: train and switch classifier versions.

Training reads closed cases (the category and level staff confirmed or corrected) and learns
from them together with the shipped corpus' training rows; it scores the new model and the one in
force on the same held-out slice of cases, and activates the new one only when it is not worse
(or when forced). Activation is audited; at most one version is active.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import Region, User
from tousu.accounts.roles import Cap, Role
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, TousuError, ValidationError
from tousu.common.origin import TRIAGE, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.choices import Channel
from tousu.complaints.events import EventKind
from tousu.complaints.models import Category, Complaint, ComplaintEvent
from tousu.complaints.services import (
    complaint_close,
    complaint_dispatch,
    complaint_escalate,
    complaint_events_record,
    complaint_investigate,
    complaint_propose_plan,
    complaint_reclassify,
    complaint_reply,
    complaint_withdraw,
)
from tousu.complaints.states import OPEN, Status
from tousu.notifications.models import DeliveryStatus, Notification, Transport
from tousu.triage import engine, selectors
from tousu.triage.models import (
    CaseLink,
    Classification,
    EventCursor,
    Incident,
    LinkKind,
    ModelVersion,
    Outcome,
)

STAFF = Origin(via="web")  # a decision made on a staff page (the views pass the request's origin)
MIN_TRAINING_CASES = 20
SCORE_KEYS = ("category_f1", "level_f1", "escalation_f1")


@dataclass
class TrainResult:
    version: ModelVersion
    scores: dict[str, float]
    baseline: dict[str, float]
    activated: bool


def training_examples() -> list[tuple[int, engine.Example]]:
    """(case id, example) for every closed case, labelled as staff left it."""
    escalated = ComplaintEvent.objects.filter(
        complaint_id=OuterRef("pk"), kind__in=[EventKind.REOPENED, EventKind.ESCALATED]
    )
    rows = (
        Complaint.objects.filter(status=Status.CLOSED)
        .annotate(was_escalated=Exists(escalated))
        .values_list(
            "id", "description", "demand", "category__code", "level", "threatens_external", "was_escalated"
        )
        .order_by("id")
    )
    return [
        (pk, engine.Example(f"{desc} {demand}".strip(), code, level, int(bool(threat or esc))))
        for pk, desc, demand, code, level, threat, esc in rows
    ]


def _better_or_equal(new: dict[str, float], old: dict[str, float]) -> bool:
    return sum(float(new.get(k, 0)) for k in SCORE_KEYS) >= sum(float(old.get(k, 0)) for k in SCORE_KEYS)


def model_train(
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    with_corpus: bool = True,
) -> TrainResult:
    """Fit a new version on closed cases; activate it when it is not worse than the current one."""
    step = progress or (lambda _msg: None)
    step("cases")
    cases = training_examples()
    if len(cases) < MIN_TRAINING_CASES:
        raise ValidationError(
            f"Only {len(cases)} closed cases to learn from; at least {MIN_TRAINING_CASES} are needed."
        )
    held_out = [ex for pk, ex in cases if pk % 5 == 0]
    train = [ex for pk, ex in cases if pk % 5 != 0]
    if not held_out:
        held_out, train = train[-max(1, len(train) // 5) :], train[: -max(1, len(train) // 5)]
    if with_corpus:
        train = train + engine.corpus_examples("train")
    current = selectors.current_classifier()
    new = engine.Classifier.fit(train, progress=step)
    step("scores")
    scores = new.evaluate(held_out)
    baseline = current.evaluate(held_out)
    version = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    rel = f"{selectors.MODELS_DIR}/{version}.bin"
    new.meta.update({"version": version, "scores": scores})
    new.save(Path(settings.DATA_DIR) / rel)
    row = ModelVersion.objects.create(
        version=version, file=rel, scores=scores, baseline_scores=baseline, trained_on=len(train)
    )
    activated = force or _better_or_equal(scores, baseline)
    if activated:
        model_activate(version=version, actor=None)
        row.refresh_from_db()
    step("done")
    return TrainResult(version=row, scores=scores, baseline=baseline, activated=activated)


@transaction.atomic
def model_activate(*, version: str, actor: User | None) -> ModelVersion:
    """Put one trained version in force (an admin switching back, or `tousu train`)."""
    if actor is not None and not actor.can(Cap.CONFIG_EDIT):
        raise PermissionDenied("Only an administrator may switch the classifier.")
    row = ModelVersion.objects.select_for_update().filter(version=version).first()
    if row is None:
        raise NotFound(f"No classifier version '{version}'.")
    if not (Path(settings.DATA_DIR) / row.file).is_file():
        raise ValidationError(f"The file of version '{version}' is missing; it cannot be activated.")
    previous = list(
        ModelVersion.objects.select_for_update().filter(is_active=True).values_list("version", flat=True)
    )
    ModelVersion.objects.filter(Q(is_active=True) & ~Q(pk=row.pk)).update(is_active=False)
    row.is_active = True
    row.activated_at = timezone.now()
    row.activated_by = actor
    row.save(update_fields=["is_active", "activated_at", "activated_by"])
    audit_record(
        actor=actor,
        kind=AuditKind.CONFIG_CHANGED,
        object_type="triage.modelversion",
        object_id=row.pk,
        field="is_active",
        payload={"activated": version, "previous": previous},
    )
    return row


@transaction.atomic
def model_deactivate_all(*, actor: User | None) -> None:
    """Back to the model shipped with Tousu."""
    if actor is not None and not actor.can(Cap.CONFIG_EDIT):
        raise PermissionDenied("Only an administrator may switch the classifier.")
    previous = list(
        ModelVersion.objects.select_for_update().filter(is_active=True).values_list("version", flat=True)
    )
    if not previous:
        return
    ModelVersion.objects.filter(is_active=True).update(is_active=False)
    audit_record(
        actor=actor,
        kind=AuditKind.CONFIG_CHANGED,
        object_type="triage.modelversion",
        object_id="shipped",
        field="is_active",
        payload={"activated": "shipped", "previous": previous},
    )


# -- classification of cases -------------------------------------------------------------------------
INTAKE_CURSOR = "triage_intake"
LEVEL_ORDER = {level: i for i, level in enumerate(engine.LEVELS)}


def _case_text(complaint: Complaint) -> str:
    return f"{complaint.description} {complaint.demand}".strip()


def _leaf(code: str) -> Category | None:
    return Category.objects.filter(code=code, is_active=True, children__isnull=True).first()


@transaction.atomic
def triage_reclassify(
    *,
    actor: User | None,
    complaint_id: int,
    category_code: str,
    level: str,
    reason: str,
    payload: dict[str, Any] | None = None,
    origin: Origin = TRIAGE,
) -> Complaint:
    """Classify an open case: its category (a leaf of the tree) and its level, never lowered here,
    through ``complaint_reclassify`` (the case services: audited before/after, SLA clocks and
    escalation follow), then a "classified" event that keeps what the model said beside it."""
    complaint = (
        Complaint.objects.select_for_update().select_related("category").filter(pk=complaint_id).first()
    )
    if complaint is None:
        raise NotFound(f"No case {complaint_id}.")
    access_complaint(actor, complaint, Cap.CASE_DISPATCH, origin=origin)
    if complaint.status not in OPEN:
        raise ValidationError(f"Case {complaint} is no longer open; it cannot be reclassified.")
    category = _leaf(category_code)
    if category is None:
        raise ValidationError(
            f"'{category_code}' is not an active leaf category.", fields={"category": "unknown category"}
        )
    if level not in LEVEL_ORDER:
        raise ValidationError(f"'{level}' is not a level.", fields={"level": "unknown level"})
    before = {"category": complaint.category.code, "level": complaint.level}
    target = max(complaint.level, level, key=LEVEL_ORDER.__getitem__)
    if category.pk != complaint.category_id or target != complaint.level:
        complaint = complaint_reclassify(
            actor=actor,
            complaint_id=complaint.pk,
            category_id=category.pk,
            level=target,
            reason=reason,
            origin=origin,
        )
    complaint_events_record(
        rows=[
            (
                complaint,
                EventKind.CLASSIFIED,
                {
                    "from_category": before["category"],
                    "to_category": category.code,
                    "from_level": before["level"],
                    "to_level": target,
                    "reason": reason,
                    **(payload or {}),
                },
            )
        ],
        actor=actor,
        origin=origin,
    )
    return complaint


def _prediction_payload(pred: engine.Prediction, version: str) -> dict[str, Any]:
    return {
        "model_version": version,
        "subcategory": pred.subcategory,
        "level": pred.level,
        "escalation_risk": round(pred.escalation_risk, 3),
        "confidence": pred.confidence,
        "explanation": pred.explanation,
    }


def _classification(
    complaint: Complaint, pred: engine.Prediction, version: str, outcome: str
) -> Classification:
    return Classification(
        complaint=complaint,
        model_version=version,
        category=pred.category,
        subcategory=pred.subcategory,
        level=pred.level,
        escalation_risk=round(pred.escalation_risk, 3),
        confidence=pred.confidence,
        explanation=pred.explanation,
        outcome=outcome,
        created_at=timezone.now(),
    )


def _escalate_for_risk(complaint: Complaint, pred: engine.Prediction) -> None:
    threshold = settings.TOUSU_TRIAGE_ESCALATION_RISK / 100
    complaint.refresh_from_db(fields=["escalation_level", "status"])
    if pred.escalation_risk < threshold or complaint.escalation_level > 0 or complaint.status not in OPEN:
        return
    complaint_escalate(
        actor=None,
        origin=TRIAGE,
        complaint_id=complaint.pk,
        reason=f"越级风险 {pred.escalation_risk:.2f}：{pred.explanation}"[:500],
        trigger="triage_risk",
    )


def triage_route(*, actor: User | None, complaint_id: int, origin: Origin = TRIAGE) -> Complaint | None:
    """Dispatch an accepted, not yet routed case to the department the routing rules name
    (through ``complaint_dispatch``). Returns None when there is nothing to do."""
    complaint = Complaint.objects.select_related("category").get(pk=complaint_id)
    if complaint.status != Status.ACCEPTED or complaint.lead_department_id is not None:
        return None
    department = selectors.route(complaint.category, complaint.region_id, complaint.business_type)
    if department is None:
        return None
    return complaint_dispatch(
        actor=actor,
        complaint_id=complaint.pk,
        lead_department_id=department.pk,
        note="按分拣规则派单",
        origin=origin,
    )


def triage_case(complaint: Complaint, pred: engine.Prediction, version: str) -> Classification:
    """Classify one case that came in without an agent: apply the prediction when confident
    enough, else queue the case for staff; escalate it when the escalation risk is high."""
    threshold = settings.TOUSU_TRIAGE_AUTO_CONFIDENCE / 100
    leaf = _leaf(pred.subcategory)
    if pred.confidence >= threshold and leaf is not None:
        triage_reclassify(
            actor=None,
            complaint_id=complaint.pk,
            category_code=pred.subcategory,
            level=pred.level,
            reason=f"自动分类（置信度 {pred.confidence:.2f}）：{pred.explanation}"[:500],
            payload=_prediction_payload(pred, version),
        )
        outcome = Outcome.APPLIED
    else:
        outcome = Outcome.QUEUED
    row = _classification(complaint, pred, version, outcome)
    row.save()
    _escalate_for_risk(complaint, pred)
    if outcome == Outcome.APPLIED:
        triage_route(actor=None, complaint_id=complaint.pk)
    return row


def triage_intake(*, batch: int = 100) -> int:
    """Worker job: classify the cases registered since the last run that no agent registered
    (API, portal, e-mail) and the regulator referrals. Reads the event log with its own cursor;
    returns how many registrations it read."""
    horizon = timezone.now() - timedelta(seconds=settings.TOUSU_TRIAGE_LAG_SECONDS)
    with transaction.atomic():
        EventCursor.objects.get_or_create(consumer=INTAKE_CURSOR)
        cursor = EventCursor.objects.select_for_update().get(consumer=INTAKE_CURSOR)
        events = list(
            ComplaintEvent.objects.filter(
                pk__gt=cursor.last_event_id, kind=EventKind.REGISTERED, created_at__lte=horizon
            )
            .order_by("id")
            .values_list("id", "complaint_id", "actor_id")[:batch]
        )
        if not events:
            return 0
        cursor.last_event_id = events[-1][0]
        cursor.save(update_fields=["last_event_id"])
        by_id = {
            c.pk: c
            for c in Complaint.objects.filter(pk__in=[e[1] for e in events]).select_related("category")
        }
        done = set(
            Classification.objects.filter(complaint_id__in=by_id).values_list("complaint_id", flat=True)
        )
        todo = [
            by_id[cid]
            for _eid, cid, actor_id in events
            if cid in by_id
            and cid not in done
            and by_id[cid].status in OPEN
            and (actor_id is None or by_id[cid].channel == Channel.REGULATOR)
        ]
        model = selectors.current_classifier()
        version = str(model.meta.get("version", "shipped"))
        repeats = set()
        for _eid, cid, _actor in events:
            if cid in by_id and any(link.kind == LinkKind.REPEAT for link in triage_links(by_id[cid], model)):
                repeats.add(cid)
        if todo:
            for complaint, pred in zip(todo, model.predict_many([_case_text(c) for c in todo]), strict=True):
                if complaint.pk in repeats:  # the customer's history: a repeat is an escalation risk
                    pred.escalation_risk = max(pred.escalation_risk, engine.ESCALATION_FLOOR)
                    pred.signals = [*pred.signals, "repeat"] if "repeat" not in pred.signals else pred.signals
                triage_case(complaint, pred, version)
    return len(events)


@transaction.atomic
def classification_decide(
    *, actor: User, complaint_id: int, category_id: int, level: str, origin: Origin = STAFF
) -> Classification:
    """Staff classify a case from the "to classify" queue (or correct an automatic one)."""
    row = Classification.objects.select_for_update().filter(complaint_id=complaint_id).first()
    if row is None or row.outcome not in (Outcome.QUEUED, Outcome.APPLIED):
        raise NotFound("This case is not waiting to be classified.")
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise ValidationError("No such category.", fields={"category": "unknown category"})
    triage_reclassify(
        actor=actor,
        complaint_id=complaint_id,
        category_code=category.code,
        level=level,
        reason="人工分类",
        origin=origin,
        payload={
            "model_version": row.model_version,
            "suggested": row.subcategory,
            "suggested_level": row.level,
        },
    )
    row.outcome = (
        Outcome.CONFIRMED if (category.code, level) == (row.subcategory, row.level) else Outcome.CORRECTED
    )
    row.decided_at = timezone.now()
    row.decided_by = actor
    row.chosen_category = category.code
    row.chosen_level = level
    row.save(update_fields=["outcome", "decided_at", "decided_by", "chosen_category", "chosen_level"])
    triage_route(actor=actor, complaint_id=complaint_id, origin=origin)
    return row


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 else None


@transaction.atomic
def triage_suggestion_record(
    *, actor: User, complaint: Complaint, data: Mapping[str, Any]
) -> Classification | None:
    """Record what the registration page suggested beside what the agent chose (a "classified"
    event and a classification row), so production accuracy is measured and `tousu train` learns
    from it. Without a (well-formed) suggestion in ``data`` nothing is recorded."""
    suggested = str(data.get("suggested_category", ""))[:60]
    level = str(data.get("suggested_level", ""))
    risk, confidence = _float(data.get("suggested_risk")), _float(data.get("suggested_confidence"))
    if not suggested or level not in LEVEL_ORDER or risk is None or confidence is None:
        return None
    case = Complaint.objects.select_for_update().select_related("category").get(pk=complaint.pk)
    if Classification.objects.filter(complaint=case).exists():
        return None
    version = str(data.get("suggested_version", ""))[:40] or "shipped"
    chosen = (case.category.code, case.level)
    row = Classification.objects.create(
        complaint=case,
        model_version=version,
        category=suggested.split("-")[0],
        subcategory=suggested,
        level=level,
        escalation_risk=risk,
        confidence=confidence,
        outcome=Outcome.CONFIRMED if chosen == (suggested, level) else Outcome.CORRECTED,
        created_at=timezone.now(),
        decided_at=timezone.now(),
        decided_by=actor,
        chosen_category=chosen[0],
        chosen_level=chosen[1],
    )
    complaint_events_record(
        rows=[
            (
                case,
                EventKind.CLASSIFIED,
                {
                    "model_version": version,
                    "suggested": suggested,
                    "suggested_level": level,
                    "escalation_risk": risk,
                    "confidence": confidence,
                    "chosen": chosen[0],
                    "chosen_level": chosen[1],
                    "outcome": row.outcome,
                },
            )
        ],
        actor=actor,
    )
    return row


# -- repeats and duplicates ------------------------------------------------------------------------------
REPEAT_SIMILARITY = 0.25


_norm = selectors.normalized_text


def _similarity(model: engine.Classifier, a: str, b: str) -> float:
    x = model.vectorizer.transform([a, b])
    return float((x[0] @ x[1].T).toarray()[0, 0])


def triage_links(complaint: Complaint, model: engine.Classifier) -> list[CaseLink]:
    """Link a new case to the same customer's earlier cases: an exact resubmission through another
    channel within minutes is a duplicate (offered for merging); an open or recent case on a
    similar issue (same top-level category, or similar words) is a repeat (重复投诉)."""
    if complaint.customer_id is None:
        return []  # a customer still to be identified has no history to compare with
    now = timezone.now()
    recent = complaint.registered_at - timedelta(days=settings.TOUSU_TRIAGE_REPEAT_DAYS)
    earlier = list(
        Complaint.objects.filter(
            customer_id=complaint.customer_id, registered_at__lte=complaint.registered_at
        )
        .exclude(pk=complaint.pk)
        .filter(Q(status__in=OPEN) | Q(registered_at__gte=recent))
        .select_related("category")
        .order_by("-registered_at", "-id")[:20]
    )
    if not earlier:
        return []
    text, top = _case_text(complaint), complaint.category.code.split("-")[0]
    links = []
    window = timedelta(minutes=settings.TOUSU_TRIAGE_DUPLICATE_MINUTES)
    for other in earlier:
        similarity = _similarity(model, text, _case_text(other))
        if (
            other.channel != complaint.channel
            and complaint.registered_at - other.registered_at <= window
            and _norm(complaint.description) == _norm(other.description)
        ):
            kind = LinkKind.DUPLICATE
        elif similarity >= REPEAT_SIMILARITY or other.category.code.split("-")[0] == top:
            kind = LinkKind.REPEAT
        else:
            continue
        links.append(
            CaseLink(
                case=complaint, earlier=other, kind=kind, similarity=round(similarity, 3), created_at=now
            )
        )
    if not links:
        return []
    CaseLink.objects.bulk_create(links, ignore_conflicts=True)
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    complaint_events_record(
        rows=[
            (
                locked,
                EventKind.LINKED,
                {
                    "kind": link.kind,
                    "earlier": link.earlier_id,
                    "earlier_ticket": link.earlier.ticket_no or "",
                    "similarity": link.similarity,
                    "label": "重复投诉" if link.kind == LinkKind.REPEAT else "重复提交",
                },
            )
            for link in links
        ]
    )
    return links


def repeat_of(complaint_id: int) -> list[CaseLink]:
    return list(CaseLink.objects.filter(case_id=complaint_id).select_related("earlier").order_by("id"))


@transaction.atomic
def triage_duplicate_merge(*, actor: User, complaint_id: int) -> Complaint:
    """Merge a duplicate submission into the first case: the duplicate is withdrawn with a note
    naming the first case, the first case gets a "linked" event, both keep their events, audited."""
    link = (
        CaseLink.objects.select_for_update()
        .filter(case_id=complaint_id, kind=LinkKind.DUPLICATE)
        .select_related("earlier", "case")
        .first()
    )
    if link is None:
        raise NotFound("This case is not a duplicate waiting to be merged.")
    access_complaint(actor, link.earlier, Cap.CASE_WITHDRAW)
    first = link.earlier
    duplicate = complaint_withdraw(
        actor=actor, complaint_id=complaint_id, reason=f"重复提交，已合并至案件 {first.ticket_no or first.pk}"
    )
    locked_first = Complaint.objects.select_for_update().get(pk=first.pk)
    complaint_events_record(
        rows=[
            (
                locked_first,
                EventKind.LINKED,
                {"kind": LinkKind.MERGED, "merged": duplicate.pk, "merged_ticket": duplicate.ticket_no or ""},
            )
        ],
        actor=actor,
    )
    link.kind = LinkKind.MERGED
    link.save(update_fields=["kind"])
    audit_record(
        actor=actor,
        kind=AuditKind.CONFIG_CHANGED,
        object_type="complaints.complaint",
        object_id=duplicate.pk,
        complaint_id=duplicate.pk,
        field="merged_into",
        payload={"merged_into": first.pk},
    )
    return duplicate


# -- links staff make and remove -------------------------------------------------------------------
MAX_LINKS_PER_CASE = 20


def _pair(complaint_id: int, other_id: int) -> list[Complaint]:
    """Both cases, locked in id order (so two people linking the same pair cannot deadlock)."""
    found = {
        c.pk: c
        for c in Complaint.objects.select_for_update().filter(pk__in=[complaint_id, other_id]).order_by("pk")
    }
    if complaint_id not in found or other_id not in found:
        raise NotFound(_("No such case."))
    return [found[complaint_id], found[other_id]]


def _link_between(a: int, b: int) -> CaseLink | None:
    return CaseLink.objects.filter(Q(case_id=a, earlier_id=b) | Q(case_id=b, earlier_id=a)).first()


@transaction.atomic
def triage_case_link(*, actor: User, complaint_id: int, other_id: int, origin: Origin = STAFF) -> CaseLink:
    """Link two related cases by hand (the same problem reported twice, one cause behind both). The
    link is a ``CaseLink`` like the ones triage finds; both timelines get a ``linked`` event."""
    if complaint_id == other_id:
        raise ValidationError(_("A case cannot be linked to itself."), fields={"ticket": "same case"})
    complaint, other = _pair(complaint_id, other_id)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    access_complaint(actor, other, Cap.CASE_VIEW, origin=origin)
    if _link_between(complaint.pk, other.pk) is not None:
        raise ValidationError(
            _("Cases %(case)s and %(other)s are already linked.") % {"case": complaint, "other": other},
            fields={"ticket": "already linked"},
        )
    count = CaseLink.objects.filter(Q(case_id=complaint.pk) | Q(earlier_id=complaint.pk)).count()
    if count >= MAX_LINKS_PER_CASE:
        raise ValidationError(
            _("Case %(case)s already has %(count)s links, the most allowed.")
            % {"case": complaint, "count": MAX_LINKS_PER_CASE},
            fields={"ticket": "too many links"},
        )
    later, earlier = sorted([complaint, other], key=lambda c: (c.registered_at, c.pk), reverse=True)
    link = CaseLink.objects.create(
        case=later, earlier=earlier, kind=LinkKind.RELATED, similarity=0.0, created_at=timezone.now()
    )
    complaint_events_record(
        rows=[
            (
                a,
                EventKind.LINKED,
                {"kind": LinkKind.RELATED, "other": b.pk, "other_ticket": b.ticket_no or ""},
            )
            for a, b in ((complaint, other), (other, complaint))
        ],
        actor=actor,
        origin=origin,
    )
    return link


@transaction.atomic
def triage_case_unlink(*, actor: User, complaint_id: int, other_id: int, origin: Origin = STAFF) -> None:
    """Remove a link between two cases (one staff made, or a repeat/duplicate triage got wrong).
    A merge is history and stays; both timelines get an ``unlinked`` event."""
    complaint, other = _pair(complaint_id, other_id)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    access_complaint(actor, other, Cap.CASE_VIEW, origin=origin)
    link = _link_between(complaint.pk, other.pk)
    if link is None:
        raise NotFound(
            _("Cases %(case)s and %(other)s are not linked.") % {"case": complaint, "other": other}
        )
    if link.kind == LinkKind.MERGED:
        raise ValidationError(
            _("A merged duplicate stays linked to the case it was merged into."), fields={"link": "merged"}
        )
    kind = link.kind
    link.delete()
    complaint_events_record(
        rows=[
            (a, EventKind.UNLINKED, {"kind": kind, "other": b.pk, "other_ticket": b.ticket_no or ""})
            for a, b in ((complaint, other), (other, complaint))
        ],
        actor=actor,
        origin=origin,
    )


# -- outage clusters -----------------------------------------------------------------------------------
def _network_q() -> Q:
    return Q(category__code="network") | Q(category__parent__code="network")


def _alert(incident: Incident, count: int, now: datetime) -> int:
    """Tell the network department and the supervisors (their inbox)."""
    users = User.objects.filter(is_active=True).filter(
        Q(role=Role.SUPERVISOR) | Q(role=Role.MANAGER) | Q(department__code="network")
    )
    subject = f"群体性投诉：{incident.region.name} 网络类 {count} 件（{incident.get_level_label()}）"
    body = f"{incident.title}。请网络运维部核查故障并统一回复。"
    rows = [
        Notification(
            key=f"incident:{incident.pk}:{incident.level}:inbox:{user.pk}",
            complaint=None,
            template="triage_incident",
            transport=Transport.INBOX,
            recipient_user=user,
            subject=subject,
            body=body,
            status=DeliveryStatus.SENT,
            next_attempt_at=now,
            created_at=now,
            sent_at=now,
        )
        for user in users
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _join(incident: Incident, complaints: list[Complaint]) -> None:
    incident.cases.add(*complaints)
    locked = list(
        Complaint.objects.select_for_update().filter(pk__in=[c.pk for c in complaints]).order_by("pk")
    )
    complaint_events_record(
        rows=[
            (c, EventKind.LINKED, {"kind": "incident", "incident": incident.pk, "label": "群体性投诉"})
            for c in locked
        ]
    )


def triage_clusters() -> int:
    """Worker job: open a major incident when network complaints from one region exceed the
    threshold within the window; later cases of that region join the open incident. Returns how
    many cases joined an incident."""
    now = timezone.now()
    since = now - timedelta(minutes=settings.TOUSU_TRIAGE_CLUSTER_MINUTES)
    joined = 0
    with transaction.atomic():
        EventCursor.objects.get_or_create(consumer="triage_clusters")
        EventCursor.objects.select_for_update().get(consumer="triage_clusters")  # one worker at a time
        member_ids = Incident.cases.through.objects.values("complaint_id")
        candidates = list(
            Complaint.objects.filter(
                _network_q(), registered_at__gte=since, status__in=OPEN, region__isnull=False
            )
            .exclude(pk__in=member_ids)
            .order_by("registered_at", "id")
        )
        by_region: dict[int, list[Complaint]] = {}
        for c in candidates:
            by_region.setdefault(c.region_id, []).append(c)  # type: ignore[arg-type]
        for region_id, group in by_region.items():
            incident = Incident.objects.filter(region_id=region_id, closed_at__isnull=True).first()
            if incident is None:
                if len(group) < settings.TOUSU_TRIAGE_CLUSTER_SIZE:
                    continue
                region = Region.objects.get(pk=region_id)
                incident = Incident.objects.create(
                    region=region,
                    level="major",
                    title=f"{region.name} 网络故障群体性投诉",
                    opened_at=now,
                )
            _join(incident, group)
            joined += len(group)
            size = incident.cases.count()
            level = "crisis" if size >= settings.TOUSU_TRIAGE_CRISIS_SIZE else "major"
            if level != incident.level:
                incident.level = level
                incident.save(update_fields=["level"])
            _alert(incident, size, now)
    return joined


def _incident_for(actor: User, incident_id: int) -> Incident:
    if not actor.can(Cap.CASE_SUPERVISE):
        raise PermissionDenied("Only a supervisor acts on a whole incident.")
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(f"No incident {incident_id}.")
    return incident


@transaction.atomic
def incident_reply_all(
    *, actor: User, incident_id: int, content: str, channel: str = "sms"
) -> dict[str, int]:
    """Send one reply to every open case of the incident, each through the case services (so each
    child gets its own dispatch/investigation/plan/reply events). All or nothing."""
    incident = _incident_for(actor, incident_id)
    content = (content or "").strip()
    if not content:
        raise ValidationError("Write the reply to send to every customer.", fields={"content": "required"})
    network = Category.objects.filter(code="network").select_related("default_department").first()
    replied = skipped = 0
    deadline = timezone.now() + timedelta(days=1)
    for child in incident.cases.filter(status__in=OPEN).select_related("category").order_by("id"):
        status = child.status
        if status in (Status.ACCEPTED, Status.REOPENED):
            department = selectors.route(child.category, child.region_id, child.business_type) or (
                network.default_department if network else None
            )
            if department is None:
                skipped += 1
                continue
            complaint_dispatch(
                actor=actor, complaint_id=child.pk, lead_department_id=department.pk, note=incident.title
            )
            status = Status.DISPATCHED
        if status in (Status.DISPATCHED, Status.AWAITING_CUSTOMER):
            complaint_investigate(actor=actor, complaint_id=child.pk, note=incident.title)
            status = Status.INVESTIGATING
        if status == Status.INVESTIGATING:
            complaint_propose_plan(
                actor=actor,
                complaint_id=child.pk,
                kind="immediate",
                measures=content,
                responsible_id=actor.pk,
                deadline=deadline,
            )
            status = Status.PLAN_PROPOSED
        if status != Status.PLAN_PROPOSED:
            skipped += 1  # awaiting a remedy approval, or already replied
            continue
        complaint_reply(actor=actor, complaint_id=child.pk, channel=channel, content=content)
        replied += 1
    return {"replied": replied, "skipped": skipped}


@transaction.atomic
def incident_close(*, actor: User, incident_id: int, note: str = "") -> dict[str, int]:
    """Close the incident and every child case the lifecycle lets close now (each through
    ``complaint_close``); the others stay open and are counted."""
    incident = _incident_for(actor, incident_id)
    if incident.closed_at is not None:
        raise ValidationError("This incident is already closed.", fields={"incident": "closed"})
    closed = left_open = 0
    for child in incident.cases.filter(status__in=OPEN).order_by("id"):
        try:
            with transaction.atomic():
                complaint_close(actor=actor, complaint_id=child.pk, note=note or incident.title)
            closed += 1
        except TousuError:
            left_open += 1
    incident.closed_at = timezone.now()
    incident.save(update_fields=["closed_at"])
    return {"closed": closed, "left_open": left_open}
