from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import Department
from tousu.sla.calendars import CalendarSpec
from tousu.vocabulary.choices import Level

USER = settings.AUTH_USER_MODEL


class ClockKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    SECOND_RESPONSE = "second_response", _("Second response")
    REPLY = "reply", _("Reply to the customer")
    REPAIR = "repair", _("Fault repair")
    REGULATOR_ACCEPT = "regulator_accept", _("Regulator referral: accept or refuse")
    REGULATOR_ANSWER = "regulator_answer", _("Regulator referral: answer")
    RETURN_VISIT = "return_visit", _("Return visit")
    REMEDY_APPROVAL = "remedy_approval", _("Remedy approval")


class ClockState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")
    CANCELLED = "cancelled", _("Cancelled")


class Area(models.TextChoices):
    ANY = "any", _("Any area")
    URBAN = "urban", _("Urban")
    RURAL = "rural", _("Rural")


class BusinessCalendar(models.Model):
    """One way of counting time: 24×7, or working hours on Chinese working days."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=50, default="Asia/Shanghai")
    always_open = models.BooleanField(_("24×7"), default=False)
    windows = models.JSONField(
        _("working windows"),
        default=list,
        blank=True,
        help_text=_('Working hours of a working day, e.g. [["09:00", "12:00"], ["13:30", "18:00"]].'),
    )
    use_chinese_holidays = models.BooleanField(_("Chinese public holidays and make-up days"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            if not isinstance(self.windows, list) or any(len(w) != 2 for w in self.windows):
                raise ValueError("write the windows as pairs of times")
            days = list(self.days.all()) if self.pk else []
            CalendarSpec(
                name=self.name,
                time_zone=self.time_zone,
                always_open=self.always_open,
                windows=tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in self.windows),
                use_chinese_holidays=self.use_chinese_holidays,
                extra_holidays=frozenset(d.day for d in days if not d.is_workday),
            )
        except (ValueError, TypeError) as exc:
            raise DjangoValidationError({"windows": str(exc)}) from None
        if not self.always_open and not self.windows:
            raise DjangoValidationError({"windows": _("A calendar that is not 24×7 needs working windows.")})

    def spec(self) -> CalendarSpec:
        days = list(self.days.all())
        return CalendarSpec(
            name=self.name,
            time_zone=self.time_zone,
            always_open=self.always_open,
            windows=tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in self.windows),
            use_chinese_holidays=self.use_chinese_holidays,
            extra_holidays=frozenset(d.day for d in days if not d.is_workday),
            extra_workdays=frozenset(d.day for d in days if d.is_workday),
        )


class CalendarDay(models.Model):
    """A day added by hand to a calendar: a holiday the library does not know, or a working day."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    day = models.DateField(_("day"))
    is_workday = models.BooleanField(_("working day"), default=False)
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [models.UniqueConstraint(fields=["calendar", "day"], name="calendar_day_unique")]

    def __str__(self) -> str:
        return f"{self.day}: {'workday' if self.is_workday else 'holiday'}"


class SlaPolicy(models.Model):
    """One time limit: which cases it applies to, which event starts, stops and pauses its clock,
    how long it runs and in which calendar, when to warn and what happens at breach.

    For each clock kind the active policies are tried in ``order``; the first that matches a case
    wins. Edits apply to clocks started afterwards (``tousu sla_recompute`` applies them to running
    clocks too); every edit is audited."""

    name = models.CharField(_("name"), max_length=100)
    clock = models.CharField(_("clock"), max_length=30, choices=ClockKind.choices)
    order = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    match_levels = models.JSONField(_("levels"), default=list, blank=True, help_text=_("Empty: every level."))
    match_channels = models.JSONField(
        _("channels"), default=list, blank=True, help_text=_("Empty: every channel.")
    )
    match_category = models.ForeignKey(
        "complaints.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Empty: every category. A top-level category matches its sub-categories."),
    )
    match_area = models.CharField(_("area"), max_length=10, choices=Area.choices, default=Area.ANY)
    start_on = models.CharField(_("starts on event"), max_length=30)
    stop_on = models.JSONField(_("met on events"), default=list)
    pause_in = models.JSONField(_("paused in statuses"), default=list, blank=True)
    target_minutes = models.PositiveIntegerField(_("time limit (minutes of the calendar)"))
    calendar = models.ForeignKey(BusinessCalendar, verbose_name=_("calendar"), on_delete=models.PROTECT)
    warn_percent = models.PositiveSmallIntegerField(
        _("warn at (percentage of the time)"),
        null=True,
        blank=True,
        help_text=_("Either this or a fixed lead."),
    )
    warn_lead_minutes = models.PositiveIntegerField(_("warn this many minutes before"), null=True, blank=True)
    escalate_on_breach = models.BooleanField(_("escalate at breach"), default=True)
    reassign_department = models.ForeignKey(
        Department,
        verbose_name=_("at breach, dispatch to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    penalty = models.DecimalField(
        _("penalty per breach (元)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Empty: the penalty of the case's level."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["clock", "order", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(target_minutes__gt=0), name="sla_policy_target_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(warn_percent__isnull=True) | models.Q(warn_percent__lt=100),
                name="sla_policy_warn_percent_below_100",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LevelRule(models.Model):
    """What a complaint level implies: the penalty of a breach, and the escalation level a case
    of this level reaches at once (major and crisis complaints go straight to management)."""

    level = models.CharField(_("level"), max_length=20, choices=Level.choices, unique=True)
    breach_penalty = models.DecimalField(_("penalty per breach (元)"), max_digits=10, decimal_places=2)
    escalate_to_level = models.PositiveSmallIntegerField(_("escalate at once to level"), default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("level rule")
        verbose_name_plural = _("level rules")

    def __str__(self) -> str:
        return self.get_level_display()


class SlaClock(models.Model):
    """One deadline of one case: started by an event, met by another, paused while the case waits
    for the customer. The target and calendar are copied from the policy when the clock starts."""

    # No index of its own: sla_clock_unique_cycle (complaint, kind, cycle) serves lookups by case.
    complaint = models.ForeignKey(
        "complaints.Complaint", on_delete=models.CASCADE, related_name="clocks", db_index=False
    )
    # Policy and calendar are not indexed: nothing looks clocks up by them (policies are
    # deactivated, not deleted), and each index is a page more to write for every clock.
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="clocks", db_index=False)
    kind = models.CharField(_("clock"), max_length=30, choices=ClockKind.choices)
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=1)
    state = models.CharField(
        _("state"), max_length=10, choices=ClockState.choices, default=ClockState.RUNNING
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+", db_index=False)
    target_minutes = models.PositiveIntegerField(_("time limit (minutes)"))
    started_at = models.DateTimeField(_("started"))
    due_at = models.DateTimeField(_("due"))
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    warned_at = models.DateTimeField(_("warned"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(_("paused business time (s)"), default=0)
    met_at = models.DateTimeField(_("met"), null=True, blank=True)
    breached_at = models.DateTimeField(_("breached"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("SLA clock")
        verbose_name_plural = _("SLA clocks")
        constraints = [
            models.UniqueConstraint(fields=["complaint", "kind", "cycle"], name="sla_clock_unique_cycle"),
            models.CheckConstraint(
                condition=models.Q(state__in=ClockState.values), name="sla_clock_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=models.Q(state="running"), name="sla_clock_due_idx"),
            models.Index(
                fields=["warn_at"],
                condition=models.Q(state="running", warned_at__isnull=True),
                name="sla_clock_warn_idx",
            ),
            models.Index(
                fields=["complaint"], condition=models.Q(ended_at__isnull=True), name="sla_clock_open_idx"
            ),
            # The "overdue" queue: cases with a missed time limit not met since (a few rows; written
            # only when the sweeper marks a clock breached).
            models.Index(
                fields=["complaint"],
                condition=models.Q(state="breached", ended_at__isnull=True),
                name="sla_clock_missed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.cycle} ({self.state})"


class SlaBreach(models.Model):
    """One missed deadline, recorded once, with the penalty against the responsible department
    and person at the time of the breach."""

    clock = models.OneToOneField(SlaClock, on_delete=models.CASCADE, related_name="breach")
    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="breaches")
    kind = models.CharField(_("clock"), max_length=30, choices=ClockKind.choices)
    level = models.CharField(_("level"), max_length=20, choices=Level.choices)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    penalty = models.DecimalField(_("penalty (元)"), max_digits=10, decimal_places=2)
    due_at = models.DateTimeField(_("was due"))
    detected_at = models.DateTimeField(_("detected"), db_index=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.penalty}"
