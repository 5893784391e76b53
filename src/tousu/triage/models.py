"""Trained model versions: one row per ``tousu train`` run, its file under TOUSU_DATA_DIR and its
scores; at most one is active (none active = the model shipped inside the package)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tousu.complaints.choices import BusinessType


class ModelVersion(models.Model):
    version = models.CharField(_("version"), max_length=40, unique=True)
    file = models.CharField(_("file"), max_length=200, help_text=_("relative to TOUSU_DATA_DIR"))
    scores = models.JSONField(_("scores on the held-out slice"), default=dict)
    baseline_scores = models.JSONField(_("scores of the model it was compared with"), default=dict)
    trained_on = models.PositiveIntegerField(_("training cases"), default=0)
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("activated by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("classifier version")
        verbose_name_plural = _("classifier versions")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="triage_one_active_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (active)' if self.is_active else ''}"


class Outcome(models.TextChoices):
    APPLIED = "applied", _("Applied automatically")
    QUEUED = "queued", _("To classify")
    SUGGESTED = "suggested", _("Suggested to the agent")
    CONFIRMED = "confirmed", _("Confirmed by staff")
    CORRECTED = "corrected", _("Corrected by staff")
    SKIPPED = "skipped", _("Not classified (registered by staff)")


class Classification(models.Model):
    """What the classifier said about one case, and what became of it."""

    complaint = models.OneToOneField(
        "complaints.Complaint", verbose_name=_("case"), on_delete=models.CASCADE, related_name="+"
    )
    model_version = models.CharField(_("model version"), max_length=40)
    category = models.CharField(_("category"), max_length=60)
    subcategory = models.CharField(_("sub-category"), max_length=60)
    level = models.CharField(_("level"), max_length=20)
    escalation_risk = models.FloatField(_("escalation risk"))
    confidence = models.FloatField(_("confidence"))
    explanation = models.TextField(_("explanation"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, db_index=True)
    created_at = models.DateTimeField(_("classified"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    chosen_category = models.CharField(_("chosen category"), max_length=60, blank=True)
    chosen_level = models.CharField(_("chosen level"), max_length=20, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("classification")
        verbose_name_plural = _("classifications")

    def __str__(self) -> str:
        return f"{self.complaint_id}: {self.subcategory} / {self.level} ({self.outcome})"


class EventCursor(models.Model):
    """How far one consumer of the case event log has read (ARCHITECTURE: own cursor per consumer)."""

    consumer = models.CharField(_("consumer"), max_length=40, primary_key=True)
    last_event_id = models.BigIntegerField(_("last event id"), default=0)

    class Meta:
        verbose_name = _("event cursor")
        verbose_name_plural = _("event cursors")

    def __str__(self) -> str:
        return f"{self.consumer} @ {self.last_event_id}"


class RoutingRule(models.Model):
    """Which department leads a case: category × region × business type → department. An empty
    field matches anything; the most specific active rule wins (then the lowest priority number);
    without a rule, the category's default department (the leaf's, else its parent's)."""

    category = models.ForeignKey(
        "complaints.Category", verbose_name=_("category"), null=True, blank=True, on_delete=models.CASCADE
    )
    region = models.ForeignKey(
        "accounts.Region", verbose_name=_("region"), null=True, blank=True, on_delete=models.CASCADE
    )
    business_type = models.CharField(
        _("business type"), max_length=20, choices=BusinessType.choices, blank=True, default=""
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("department"), on_delete=models.PROTECT
    )
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        parts = [str(self.category or "*"), str(self.region or "*"), self.business_type or "*"]
        return " × ".join(parts) + f" → {self.department}"


class LinkKind(models.TextChoices):
    REPEAT = "repeat", _("Repeat complaint")
    DUPLICATE = "duplicate", _("Duplicate submission")
    MERGED = "merged", _("Merged duplicate")
    RELATED = "related", _("Related case (linked by staff)")


class CaseLink(models.Model):
    """A new case (``case``) tied to an earlier one (``earlier``): a repeat complaint (重复投诉) of
    the same customer on a similar issue, or the same text submitted again through another channel."""

    case = models.ForeignKey(
        "complaints.Complaint", verbose_name=_("case"), on_delete=models.CASCADE, related_name="+"
    )
    earlier = models.ForeignKey(
        "complaints.Complaint", verbose_name=_("earlier case"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=LinkKind.choices)
    similarity = models.FloatField(_("similarity"), default=0.0)
    created_at = models.DateTimeField(_("linked"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("case link")
        verbose_name_plural = _("case links")
        constraints = [models.UniqueConstraint(fields=["case", "earlier"], name="triage_one_link_per_pair")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.earlier_id} ({self.kind})"


class Incident(models.Model):
    """A major incident (群体性投诉): network complaints from one region over the threshold within
    the window. It groups the children's cases; later cases of the same region join it while open."""

    region = models.ForeignKey("accounts.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    category = models.CharField(_("category"), max_length=60, default="network")
    level = models.CharField(_("level"), max_length=20, default="major")
    title = models.CharField(_("title"), max_length=200)
    opened_at = models.DateTimeField(_("opened"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    cases = models.ManyToManyField(
        "complaints.Complaint", verbose_name=_("cases"), related_name="+", blank=True
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("major incident")
        verbose_name_plural = _("major incidents")

    def __str__(self) -> str:
        return self.title

    def get_level_label(self) -> str:
        from tousu.complaints.choices import Level

        return str(Level(self.level).label)
