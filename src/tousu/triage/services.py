"""Triage services: train and switch classifier versions.

Training reads closed cases (the category and level staff confirmed or corrected) and learns
from them together with the shipped corpus' training rows; it scores the new model and the one in
force on the same held-out slice of cases, and activates the new one only when it is not worse
(or when forced). Activation is audited; at most one version is active.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.states import Status
from tousu.triage import engine, selectors
from tousu.triage.models import ModelVersion

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
