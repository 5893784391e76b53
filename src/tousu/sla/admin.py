from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.admin import ReadOnlyAdmin
from tousu.common.errors import TousuError
from tousu.common.origin import Origin
from tousu.sla.calendars import year_is_covered
from tousu.sla.models import BusinessCalendar, CalendarDay, LevelRule, SlaBreach, SlaClock, SlaPolicy
from tousu.sla.services import EDITABLE, sla_config_changed, sla_policy_update, sla_policy_validate


class SlaEditorAdmin(admin.ModelAdmin):
    """Editable by supervisors, managers and administrators; every save is audited."""

    def _editor(self, request: Any) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user.can(Cap.SLA_EDIT))

    def has_module_permission(self, request: Any) -> bool:
        return self._editor(request)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return self._editor(request)

    def has_add_permission(self, request: Any) -> bool:
        return self._editor(request)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return self._editor(request)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # deactivate instead: clocks and breaches refer to these rows

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        before = {}
        if change:
            old = type(obj).objects.get(pk=obj.pk)
            before = {f: str(getattr(old, f)) for f in form.changed_data}
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            kind=AuditKind.CONFIG_CHANGED,
            object_type=type(obj)._meta.model_name or "config",
            object_id=obj.pk,
            origin=Origin.from_request(request),
            payload={
                "before": before,
                "after": {f: str(getattr(obj, f)) for f in form.changed_data},
                "created": not change,
            },
        )
        sla_config_changed()


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(SlaEditorAdmin):
    list_display = ["name", "always_open", "windows", "use_chinese_holidays", "time_zone"]
    inlines = [CalendarDayInline]

    def changelist_view(self, request: Any, extra_context: Any = None) -> Any:
        year = timezone.localdate().year
        missing = [y for y in (year, year + 1) if not year_is_covered(y)]
        if missing:
            messages.warning(
                request,
                _(
                    "No public-holiday data for %(years)s: working-day deadlines count Monday to Friday. "
                    "Add the holidays and make-up working days by hand below, or upgrade chinesecalendar."
                )
                % {"years": ", ".join(map(str, missing))},
            )
        return super().changelist_view(request, extra_context)

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            audit_record(
                actor=request.user,
                kind=AuditKind.CONFIG_CHANGED,
                object_type="calendar_days",
                object_id=form.instance.pk,
                origin=Origin.from_request(request),
                payload={
                    "days": [
                        str(d.day) + (" workday" if d.is_workday else " holiday")
                        for d in form.instance.days.all()
                    ]
                },
            )
            sla_config_changed()


class SlaPolicyForm(forms.ModelForm):
    """Refuses a policy that could never work with the service's own rules, as form errors (a
    200 page naming the fields), before anything is saved."""

    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "clock",
            "order",
            "is_active",
            "match_levels",
            "match_channels",
            "match_category",
            "match_area",
            "start_on",
            "stop_on",
            "pause_in",
            "target_minutes",
            "calendar",
            "warn_percent",
            "warn_lead_minutes",
            "escalate_on_breach",
            "reassign_department",
            "penalty",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned  # the fields' own errors first
        policy = copy.copy(self.instance)
        for name, value in cleaned.items():
            setattr(policy, name, value)
        try:
            sla_policy_validate(policy)
        except TousuError as exc:
            problems = getattr(exc, "fields", {}) or {}
            for name, problem in problems.items():
                self.add_error(name if name in self.fields else None, problem)
            if not problems:
                self.add_error(None, exc.message)
        return cleaned


@admin.register(SlaPolicy)
class SlaPolicyAdmin(SlaEditorAdmin):
    form = SlaPolicyForm
    list_display = ["name", "clock", "order", "target_minutes", "calendar", "is_active", "updated_at"]
    list_filter = ["clock", "is_active", "calendar"]
    search_fields = ["name"]

    def save_model(self, request: Any, obj: SlaPolicy, form: Any, change: bool) -> None:
        if not change:
            try:
                sla_policy_validate(obj)
            except TousuError as exc:
                raise DjangoValidationError(str(exc)) from exc
            super().save_model(request, obj, form, change)
            return
        changes = {}
        stored = SlaPolicy.objects.get(pk=obj.pk)
        for name in form.changed_data:
            field = SlaPolicy._meta.get_field(name)
            key = getattr(field, "attname", name)
            # A JSON field always reads as "changed" in the form: only values that differ count.
            if key in EDITABLE and getattr(obj, key) != getattr(stored, key):
                changes[key] = getattr(obj, key)
        try:
            sla_policy_update(
                actor=request.user, policy_id=obj.pk, changes=changes, origin=Origin.from_request(request)
            )
        except TousuError as exc:
            messages.error(request, str(exc))


@admin.register(LevelRule)
class LevelRuleAdmin(SlaEditorAdmin):
    list_display = ["level", "breach_penalty", "escalate_to_level"]


class ReadOnly(ReadOnlyAdmin):
    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        user = request.user
        return user.is_active and (
            user.is_superuser or user.can(Cap.CASE_SUPERVISE) or user.can(Cap.SLA_EDIT)
        )

    def has_module_permission(self, request: Any) -> bool:
        return self.has_view_permission(request)


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnly):
    list_display = ["complaint", "kind", "cycle", "state", "started_at", "due_at", "met_at", "breached_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["complaint"]
    show_full_result_count = False
    raw_id_fields = ["complaint"]


@admin.register(SlaBreach)
class SlaBreachAdmin(ReadOnly):
    list_display = ["complaint", "kind", "level", "department", "person", "penalty", "due_at", "detected_at"]
    list_filter = ["kind", "level", "department"]
    list_select_related = ["complaint", "department", "person"]
    date_hierarchy = "detected_at"
    show_full_result_count = False
