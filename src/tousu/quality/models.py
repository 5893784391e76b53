"""Quality inspection: the sampling rules, the weekly picks, scorecards and their versions,
inspections, appeals, and the quality app's own append-only event log (docs/adr/0022)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class PickReason(models.TextChoices):
    RANDOM = "random", _("Random share")
    REOPENED = "reopened", _("Reopened")
    ESCALATED = "escalated", _("Escalated")
    DISSATISFIED = "dissatisfied", _("Dissatisfied at the return visit")
    BREACHED = "breached", _("Deadline missed")
    REMEDY = "remedy", _("Remedy above the amount")
    RISK = "risk", _("Escalation-risk flag")


class InspectionStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Scored")
    APPEALED = "appealed", _("Appealed")
    UPHELD = "upheld", _("Appeal refused: score upheld")
    AMENDED = "amended", _("Appeal granted: score amended")


class QualityEventKind(models.TextChoices):
    RULES_CHANGED = "rules_changed", _("Sampling rules changed")
    SAMPLED = "sampled", _("Cases sampled")
    CARD_PUBLISHED = "card_published", _("Scorecard version published")
    INSPECTED = "inspected", _("Case inspected")
    CALIBRATED = "calibrated", _("Calibration score given")
    APPEALED = "appealed", _("Inspection appealed")
    APPEAL_DECIDED = "appeal_decided", _("Appeal decided")


class SamplingRules(models.Model):
    """The sampling rules in force (one row, edited by supervisors through ``sampling_rules_update``)."""

    random_per_agent = models.PositiveSmallIntegerField(_("random picks per agent per week"), default=2)
    pick_reopened = models.BooleanField(_("pick reopened cases"), default=True)
    pick_escalated = models.BooleanField(_("pick escalated cases"), default=True)
    pick_dissatisfied = models.BooleanField(_("pick dissatisfied return visits"), default=True)
    pick_breached = models.BooleanField(_("pick cases with a missed deadline"), default=True)
    pick_risk = models.BooleanField(_("pick cases flagged as escalation risks"), default=True)
    remedy_above = models.DecimalField(
        _("pick remedies above (元)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        default=200,
        help_text=_("Empty: no pick by remedy amount."),
    )
    calibration_per_week = models.PositiveSmallIntegerField(_("calibration picks per week"), default=1)
    appeal_working_days = models.PositiveSmallIntegerField(_("working days to appeal"), default=3)
    seed = models.CharField(_("sampling seed"), max_length=40, default="tousu")
    updated_at = models.DateTimeField(_("updated"))
    updated_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("sampling rules")
        verbose_name_plural = _("sampling rules")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(remedy_above__isnull=True) | models.Q(remedy_above__gte=0),
                name="quality_rules_remedy_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Sampling rules"))


class Scorecard(models.Model):
    """One inspection form (e.g. "complaint handling"); its criteria live in its versions."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")

    def __str__(self) -> str:
        return self.name

    def current(self) -> ScorecardVersion | None:
        return self.versions.order_by("-number").first()


class ScorecardVersion(models.Model):
    """One published, never-changed version of a scorecard. ``criteria`` is a list of
    ``{"code", "label", "weight", "fatal"}``: a fatal item failed makes the whole score 0; the
    other items count their weight when met. Inspections keep the version they were scored with."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    criteria = models.JSONField(_("criteria"))
    pass_mark = models.PositiveSmallIntegerField(_("pass mark"), default=80)
    published_at = models.DateTimeField(_("published"))
    published_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["scorecard", "number"]
        verbose_name = _("scorecard version")
        verbose_name_plural = _("scorecard versions")
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "number"], name="quality_card_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scorecard} v{self.number}"


class SamplingRun(models.Model):
    """One sampling of one week's closed cases (Monday to Sunday, local days)."""

    week_start = models.DateField(_("week"), unique=True)
    seed = models.CharField(_("seed"), max_length=80)
    ran_at = models.DateTimeField(_("ran"))
    ran_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    via = models.CharField(_("via"), max_length=120, blank=True)

    class Meta:
        ordering = ["-week_start"]
        verbose_name = _("sampling run")
        verbose_name_plural = _("sampling runs")

    def __str__(self) -> str:
        return f"{self.week_start}"


class Pick(models.Model):
    """One case picked for inspection by a run, with why, and the agent whose work it was."""

    run = models.ForeignKey(SamplingRun, on_delete=models.PROTECT, related_name="picks")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reasons = models.JSONField(_("reasons"), default=list)
    calibration = models.BooleanField(_("calibration (two inspectors, blind)"), default=False)

    class Meta:
        ordering = ["run", "id"]
        verbose_name = _("pick")
        verbose_name_plural = _("picks")
        constraints = [models.UniqueConstraint(fields=["run", "complaint"], name="quality_pick_unique")]
        indexes = [models.Index(fields=["agent", "run"], name="quality_pick_agent_idx")]

    def __str__(self) -> str:
        return f"{self.run} #{self.complaint_id}"

    def reason_labels(self) -> list[str]:
        return [str(PickReason(r).label) for r in self.reasons if r in PickReason.values]


class Inspection(models.Model):
    """One inspector's scoring of one picked case against one scorecard version. A calibration
    inspection (a second inspector, blind) counts for the spread only, never for the agent."""

    pick = models.ForeignKey(Pick, on_delete=models.PROTECT, related_name="inspections")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    inspector = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    card = models.ForeignKey(ScorecardVersion, on_delete=models.PROTECT, related_name="inspections")
    answers = models.JSONField(_("answers"))  # {criterion code: met (bool)}
    fatal_failed = models.JSONField(_("fatal items failed"), default=list)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=1)
    final_score = models.DecimalField(_("final score"), max_digits=5, decimal_places=1)
    comments = models.TextField(_("comments"), blank=True)
    is_calibration = models.BooleanField(_("calibration"), default=False)
    status = models.CharField(
        _("status"), max_length=12, choices=InspectionStatus.choices, default=InspectionStatus.SUBMITTED
    )
    submitted_at = models.DateTimeField(_("scored"))
    appeal_due_at = models.DateTimeField(_("appeal until"), null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        constraints = [
            models.UniqueConstraint(fields=["pick", "inspector"], name="quality_inspection_once"),
            models.UniqueConstraint(
                fields=["pick"],
                condition=models.Q(is_calibration=False),
                name="quality_one_scoring_per_pick",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=InspectionStatus.values), name="quality_inspection_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["agent", "submitted_at"], name="quality_inspection_agent_idx")]

    def __str__(self) -> str:
        return f"#{self.complaint_id} {self.final_score}"


class Appeal(models.Model):
    """The agent's appeal against one inspection, and the supervisor's decision on it."""

    inspection = models.OneToOneField(Inspection, on_delete=models.PROTECT, related_name="appeal")
    reason = models.TextField(_("reason"))
    filed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(_("filed"))
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    granted = models.BooleanField(_("granted"), null=True, blank=True)
    decided_score = models.DecimalField(
        _("score after the appeal"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["filed_at", "id"]
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")

    def __str__(self) -> str:
        return f"{self.inspection}"


class QualityEvent(models.Model):
    """One thing that happened in quality inspection: who did what, through which channel.
    Append-only: only the quality services write it, and nothing updates or deletes it."""

    created_at = models.DateTimeField(_("time"))
    kind = models.CharField(_("kind"), max_length=20, choices=QualityEventKind.choices)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor label"), max_length=150, blank=True)
    via = models.CharField(_("via"), max_length=120, blank=True)
    complaint_id = models.BigIntegerField(_("case"), null=True, blank=True)
    inspection = models.ForeignKey(
        Inspection, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    payload = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("quality event")
        verbose_name_plural = _("quality events")
        indexes = [models.Index(fields=["complaint_id", "created_at"], name="quality_event_case_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind}"
