"""Rollups of the case event log, and the figures reports need that are not in it.

``CaseFact`` rows say what one case contributes to the KPIs of one day; ``DailyRollup`` rows are
their sums per day and bucket. Both are derived: ``tousu analytics rebuild`` recomputes them from
the cases, and the worker keeps them current from the event log (``EventCursor``). The fact
columns are declared once, in ``Facts``; ``tousu.analytics.kpis`` says what each KPI does with them.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import Region


def _count() -> models.BigIntegerField:
    return models.BigIntegerField(default=0)


class Facts(models.Model):
    """The additive facts of the KPIs (counts; money in 分, fen; durations in seconds)."""

    accepted = _count()  # cases accepted (投诉量)
    rejected = _count()  # cases not accepted (不予受理量)
    regulator_referrals = _count()  # accepted cases that came as a regulator referral
    went_over = _count()  # accepted regulator/media cases after an earlier case on the issue (越级)
    repeat = _count()  # accepted cases with another of the same top category in the window (重复)
    closed = _count()  # cases closed (by their last closing)
    closed_first_contact = _count()  # of which resolved at first contact (一次解决)
    reopened = _count()  # cases reopened (by their last reopening)
    escalated = _count()  # cases escalated (by their first escalation), by trigger below
    escalated_sla = _count()
    escalated_dissatisfaction = _count()
    escalated_threat = _count()
    escalated_manual = _count()
    escalated_level = _count()
    replied = _count()  # cases replied to (by their last reply)
    handling_seconds = _count()  # acceptance → reply, calendar time, of the replied cases
    handling_work_seconds = _count()  # the same in working time (the reply clock's calendar)
    visited = _count()  # cases with a reached return visit (by their last one)
    visits_reached = _count()  # return visits that reached the customer
    visits_unreached = _count()  # attempts that did not
    visits_scored = _count()  # reached visits with a satisfaction score
    visits_satisfied = _count()  # reached visits with satisfaction ≥ 4
    satisfaction_sum = _count()  # sum of the scores
    clock_first_response_ended = _count()  # clocks ended (met) or breached, per kind …
    clock_first_response_met = _count()  # … and of those, met in time
    clock_second_response_ended = _count()
    clock_second_response_met = _count()
    clock_reply_ended = _count()
    clock_reply_met = _count()
    clock_repair_ended = _count()
    clock_repair_met = _count()
    clock_regulator_accept_ended = _count()
    clock_regulator_accept_met = _count()
    clock_regulator_answer_ended = _count()
    clock_regulator_answer_met = _count()
    clock_return_visit_ended = _count()
    clock_return_visit_met = _count()
    clock_remedy_approval_ended = _count()
    clock_remedy_approval_met = _count()
    breaches = _count()  # deadlines missed, charged to ``department``
    penalty_fen = _count()  # their penalties
    remedy_refund = _count()  # remedies approved, count and 分 per kind
    remedy_refund_fen = _count()
    remedy_fee_waiver = _count()
    remedy_fee_waiver_fen = _count()
    remedy_compensation = _count()
    remedy_compensation_fen = _count()
    remedy_apology = _count()
    remedy_apology_fen = _count()
    remedy_service_adjustment = _count()
    remedy_service_adjustment_fen = _count()

    class Meta:
        abstract = True


class Bucket(models.Model):
    """The grain of the rollups: local day × region × category leaf × channel × department ×
    level × business type. Ids, not foreign keys (0: none), so a bucket is one plain unique key."""

    day = models.DateField(_("day"))
    region_id = models.IntegerField(_("region"), default=0)
    category_id = models.IntegerField(_("category"))
    channel = models.CharField(_("channel"), max_length=20)
    department_id = models.IntegerField(_("department"), default=0)
    level = models.CharField(_("level"), max_length=20)
    business_type = models.CharField(_("business type"), max_length=20)

    class Meta:
        abstract = True


BUCKET_FIELDS = ("day", "region_id", "category_id", "channel", "department_id", "level", "business_type")
FACT_FIELDS = tuple(f.name for f in Facts._meta.local_fields)


class CaseFact(Bucket, Facts):
    """What one case contributes to one day's bucket. A case has a row per day on which something
    counted happened to it; its bucket is its classification now (so a reclassified case moves),
    except breaches, which are charged to the department the breach was charged to."""

    # No foreign key: a row outlives nothing (the case's rows are rewritten with it) and a
    # constraint would be checked on every write of the hot path.
    complaint_id = models.BigIntegerField(_("case"))

    class Meta:
        verbose_name = _("case fact")
        verbose_name_plural = _("case facts")
        indexes = [
            models.Index(fields=["complaint_id"], name="casefact_complaint_idx"),
            models.Index(fields=["day", "category_id"], name="casefact_day_idx"),
            # The handling-time percentiles: the replied cases of a period, in order.
            models.Index(
                fields=["day", "handling_seconds"],
                condition=models.Q(replied__gt=0),
                name="casefact_replied_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.complaint_id} {self.day}"


class DailyRollup(Bucket, Facts):
    """The sum of the case facts of one bucket (rows whose facts are all zero are deleted). Reports
    read it only when they narrow two dimensions or more (see ``SliceRollup``)."""

    class Meta:
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        constraints = [models.UniqueConstraint(fields=list(BUCKET_FIELDS), name="rollup_bucket_unique")]
        indexes = [
            models.Index(fields=["level", "day"], name="rollup_level_day_idx"),
            models.Index(fields=["channel", "day"], name="rollup_channel_day_idx"),
            models.Index(fields=["department_id", "day"], name="rollup_department_day_idx"),
            models.Index(fields=["region_id", "day"], name="rollup_region_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.category_id}/{self.region_id}/{self.channel}"


# The dimensions a slice may keep ("": none, the total).
SLICE_DIMENSIONS = ("", "region_id", "category_id", "channel", "department_id", "level", "business_type")
SLICE_FIELDS = ("grain", "dimension", "value", "day")
DAY, MONTH = "d", "m"


class SliceRollup(Facts):
    """The case facts summed per day (``grain`` "d") or per month ("m", ``day`` the month's first
    day) and per value of *one* dimension (or none: ``dimension`` ""). Its size depends on the
    calendar and the dimensions' values, not on the number of cases: a report with no filter, or
    one narrowed on one dimension, reads these few rows. Kept with ``DailyRollup``, from the same
    differences (rows whose facts are all zero are deleted)."""

    grain = models.CharField(_("grain"), max_length=1)
    dimension = models.CharField(_("dimension"), max_length=20, blank=True)
    value = models.CharField(_("value"), max_length=20, blank=True)
    day = models.DateField(_("day"))

    class Meta:
        verbose_name = _("slice rollup")
        verbose_name_plural = _("slice rollups")
        constraints = [models.UniqueConstraint(fields=list(SLICE_FIELDS), name="slice_rollup_unique")]
        indexes = [models.Index(fields=["grain", "dimension", "day"], name="slice_grain_dimension_day_idx")]

    def __str__(self) -> str:
        return f"{self.grain} {self.day} {self.dimension}={self.value}"


class EventCursor(models.Model):
    """One consumer of the case event log: the highest event id it has read, and the lower ids it
    has not seen yet whose transactions may still commit (``gaps``: ``[[id, first seen ISO time]]``)."""

    consumer = models.CharField(_("consumer"), max_length=40, primary_key=True)
    last_id = models.BigIntegerField(_("last event id"), default=0)
    gaps = models.JSONField(_("ids not seen yet"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), null=True, blank=True)
    # A rebuild in progress: the last case id recomputed (None: no rebuild), of how many cases.
    rebuild_after = models.BigIntegerField(_("rebuilt up to case"), null=True, blank=True)
    rebuild_done = models.BigIntegerField(_("cases rebuilt"), default=0)
    rebuild_total = models.BigIntegerField(_("cases to rebuild"), default=0)

    class Meta:
        verbose_name = _("event-log cursor")
        verbose_name_plural = _("event-log cursors")

    def __str__(self) -> str:
        return f"{self.consumer} @ {self.last_id}"


class SubscriberCount(models.Model):
    """The operator's subscribers in one region in one month (the 万投比 and 申诉率 denominators)."""

    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT)
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    subscribers = models.PositiveBigIntegerField(_("subscribers"))

    class Meta:
        ordering = ["-month", "region"]
        verbose_name = _("subscriber count")
        verbose_name_plural = _("subscriber counts")
        constraints = [
            models.UniqueConstraint(fields=["region", "month"], name="subscriber_count_unique"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="subscriber_count_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.region} {self.month:%Y-%m}: {self.subscribers}"


class HotlineFigure(models.Model):
    """The call centre's own figures for one day (imported): calls offered to and answered by an
    agent, for 人工服务应答率."""

    day = models.DateField(_("day"), unique=True)
    calls_offered = models.PositiveIntegerField(_("calls offered to an agent"))
    calls_answered = models.PositiveIntegerField(_("calls answered by an agent"))

    class Meta:
        ordering = ["-day"]
        verbose_name = _("hotline figure")
        verbose_name_plural = _("hotline figures")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(calls_answered__lte=models.F("calls_offered")),
                name="hotline_answered_not_above_offered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.calls_answered}/{self.calls_offered}"


class Frequency(models.TextChoices):
    WEEKLY = "week", _("Weekly")
    MONTHLY = "month", _("Monthly")


class ReportSubscription(models.Model):
    """A manager (or supervisor, or department handler) who receives the KPI report of every past
    week or month by e-mail, with the .xlsx attached (sent by the worker)."""

    user = models.ForeignKey(
        "accounts.User", verbose_name=_("user"), on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices)
    created_at = models.DateTimeField(_("subscribed"))

    class Meta:
        ordering = ["user", "frequency"]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["user", "frequency"], name="report_subscription_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_frequency_display()}"


class ReportDelivery(models.Model):
    """One period's report queued for one subscription: the unique row that makes it once."""

    subscription = models.ForeignKey(
        ReportSubscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    period_start = models.DateField(_("period start"))
    notification_id = models.BigIntegerField(_("notification"), null=True, blank=True)
    created_at = models.DateTimeField(_("queued"))

    class Meta:
        ordering = ["-period_start"]
        verbose_name = _("report delivery")
        verbose_name_plural = _("report deliveries")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period_start"], name="report_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription} {self.period_start}"
