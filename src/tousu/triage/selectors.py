"""Which classifier answers: the active trained version, else the one shipped in the package.

Works without a migrated database (``tousu classify`` on a fresh clone): any database error
falls back to the shipped model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Q, QuerySet

from tousu.accounts.models import Department, User
from tousu.complaints.access import visible_complaints_q
from tousu.complaints.choices import Level
from tousu.complaints.models import Category, Complaint
from tousu.complaints.states import OPEN
from tousu.customers.models import IdentityKind
from tousu.triage import engine
from tousu.triage.models import (
    CaseLink,
    Classification,
    Incident,
    LinkKind,
    ModelVersion,
    Outcome,
    RoutingRule,
)

_lock = threading.Lock()
_cache: dict[str, engine.Classifier] = {}

MODELS_DIR = "triage/models"


def models_dir() -> Path:
    return Path(settings.DATA_DIR) / MODELS_DIR


def active_version() -> ModelVersion | None:
    try:
        return ModelVersion.objects.filter(is_active=True).first()
    except DatabaseError:
        return None


def load_version(row: ModelVersion) -> engine.Classifier:
    with _lock:
        model = _cache.get(row.version)
        if model is None:
            model = engine.Classifier.load(Path(settings.DATA_DIR) / row.file)
            model.meta["version"] = row.version
            _cache.clear()
            _cache[row.version] = model
        return model


def current_classifier() -> engine.Classifier:
    """The classifier in force: the active trained version, else the shipped model."""
    row = active_version()
    if row is not None:
        try:
            return load_version(row)
        except (OSError, ValueError):
            pass  # the file is gone or unreadable: answer with the shipped model rather than fail
    return engine.shipped()


def current_version_label() -> str:
    return str(current_classifier().meta.get("version", "shipped"))


def to_classify(user: User) -> QuerySet[Classification]:
    """The "to classify" queue: cases the model was not sure enough about, that ``user`` may see."""
    return (
        Classification.objects.filter(outcome=Outcome.QUEUED)
        .filter(complaint__in=Complaint.objects.filter(visible_complaints_q(user)).filter(status__in=OPEN))
        .select_related("complaint", "complaint__category")
        .order_by("created_at", "id")
    )


@dataclass
class Suggestion:
    prediction: engine.Prediction
    version: str
    category: Category | None  # the suggested leaf, when the tree has it
    department: Department | None

    @property
    def level_label(self) -> str:
        return str(Level(self.prediction.level).label)

    @property
    def risk_high(self) -> bool:
        return self.prediction.escalation_risk >= settings.TOUSU_TRIAGE_ESCALATION_RISK / 100


def suggestion_for(text: str, region_id: int | None = None, business_type: str = "") -> Suggestion:
    """What the classifier proposes for a text: one query for the leaf, one for the routing rules."""
    model = current_classifier()
    pred = model.predict(text)
    category = (
        Category.objects.filter(code=pred.subcategory, is_active=True)
        .select_related("default_department", "parent")
        .first()
    )
    return Suggestion(
        prediction=pred,
        version=str(model.meta.get("version", "shipped")),
        category=category,
        department=route(category, region_id, business_type),
    )


def route(
    category: Category | None, region_id: int | None = None, business_type: str = ""
) -> Department | None:
    """The lead department for a case: the most specific matching routing rule, else the
    category's default department (the leaf's, else its parent's). One query for the rules."""
    if category is None:
        return None
    ids = [category.pk] + ([category.parent_id] if category.parent_id else [])
    rules = (
        RoutingRule.objects.filter(is_active=True)
        .filter(
            Q(category_id__in=ids) | Q(category__isnull=True),
            Q(region_id=region_id) | Q(region__isnull=True),
            Q(business_type=business_type) | Q(business_type=""),
        )
        .select_related("department")
    )

    def specificity(rule: RoutingRule) -> tuple[int, int, int, int]:
        on_leaf = 2 if rule.category_id == category.pk else (1 if rule.category_id else 0)
        return (
            -(on_leaf + (rule.region_id is not None) + bool(rule.business_type)),
            -on_leaf,
            rule.priority,
            rule.pk,
        )

    best = min(rules, key=specificity, default=None)
    if best is not None:
        return best.department
    if category.default_department_id:
        return category.default_department
    if category.parent_id and category.parent is not None:
        return category.parent.default_department
    return None


@dataclass
class CaseFlags:
    """What the triage says about one case, for the queue rows and the case page."""

    risk: float | None = None  # the escalation risk, when it is high
    explanation: str = ""
    repeat_of: tuple[int, str] | None = None  # (pk, ticket) of the earlier case
    duplicate_of: tuple[int, str] | None = None  # a duplicate waiting to be merged into that case


def case_flags(ids: list[int]) -> dict[int, CaseFlags]:
    """The high-risk and repeat/duplicate flags of these cases: two queries whatever their number
    (none for no case)."""
    flags: dict[int, CaseFlags] = {}
    if not ids:
        return flags
    threshold = settings.TOUSU_TRIAGE_ESCALATION_RISK / 100
    for cid, risk, explanation in Classification.objects.filter(
        complaint_id__in=ids, escalation_risk__gte=threshold
    ).values_list("complaint_id", "escalation_risk", "explanation"):
        flags.setdefault(cid, CaseFlags()).risk = risk
        flags[cid].explanation = explanation
    links = (
        CaseLink.objects.filter(case_id__in=ids, kind__in=[LinkKind.REPEAT, LinkKind.DUPLICATE])
        .order_by("id")
        .values_list("case_id", "kind", "earlier_id", "earlier__ticket_no")
    )
    for cid, kind, earlier_id, ticket in links:
        flag = flags.setdefault(cid, CaseFlags())
        target = (earlier_id, ticket or f"#{earlier_id}")
        if kind == LinkKind.DUPLICATE:
            flag.duplicate_of = flag.duplicate_of or target
        else:
            flag.repeat_of = flag.repeat_of or target
    return flags


def open_incidents() -> QuerySet[Incident]:
    """Open major incidents, newest first, with their number of cases (one query)."""
    return (
        Incident.objects.filter(closed_at__isnull=True)
        .select_related("region")
        .annotate(case_count=Count("cases"))
        .order_by("-opened_at", "-id")
    )


def incidents(*, include_closed: bool = True) -> QuerySet[Incident]:
    rows = Incident.objects.select_related("region").annotate(case_count=Count("cases"))
    return rows if include_closed else rows.filter(closed_at__isnull=True)


@dataclass(frozen=True)
class RelatedCase:
    """One case linked to the case being shown, either way round, as the viewer may see it."""

    complaint: Complaint
    kind: str
    kind_label: str
    may_unlink: bool


def related_cases(actor: User, complaint: Complaint) -> list[RelatedCase]:
    """The cases linked to ``complaint`` (repeats, duplicates, merges, staff links) that ``actor``
    may see, newest link first: two queries."""
    links = (
        CaseLink.objects.filter(Q(case_id=complaint.pk) | Q(earlier_id=complaint.pk))
        .select_related("case", "earlier", "case__category", "earlier__category")
        .order_by("-created_at", "-id")
    )
    visible = visible_complaints_q(actor)
    others = {link.pk: (link.earlier if link.case_id == complaint.pk else link.case) for link in links}
    seen = set(
        Complaint.objects.filter(visible, pk__in=[c.pk for c in others.values()]).values_list("pk", flat=True)
    )
    return [
        RelatedCase(
            complaint=others[link.pk],
            kind=link.kind,
            kind_label=str(LinkKind(link.kind).label),
            may_unlink=link.kind != LinkKind.MERGED,
        )
        for link in links
        if others[link.pk].pk in seen
    ]


def normalized_text(text: str) -> str:
    """A text as duplicate detection compares it: letters and digits only, lower case."""
    return "".join(ch for ch in text if ch.isalnum()).lower()


def same_complaint_just_registered(
    actor: User, *, phone: str, description: str, now: datetime
) -> Complaint | None:
    """An open case of the caller (``phone`` in E.164) with the same description, registered within
    ``TOUSU_TRIAGE_DUPLICATE_MINUTES`` and visible to ``actor``: the same rule as triage's duplicate
    links, asked before a second case is made. The newest such case, or None."""
    text = normalized_text(description)
    if not text:
        return None
    since = now - timedelta(minutes=settings.TOUSU_TRIAGE_DUPLICATE_MINUTES)
    recent = (
        Complaint.objects.filter(visible_complaints_q(actor), status__in=list(OPEN), registered_at__gte=since)
        .filter(
            Q(customer__phone=phone)
            | Q(customer__identities__kind=IdentityKind.PHONE, customer__identities__value=phone)
        )
        .distinct()
        .order_by("-registered_at", "-id")[:20]
    )
    return next((c for c in recent if normalized_text(c.description) == text), None)
