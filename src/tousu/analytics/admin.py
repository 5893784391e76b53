from __future__ import annotations

from typing import Any

from django.contrib import admin

from tousu.accounts.roles import Cap
from tousu.analytics.models import HotlineFigure, ReportSubscription, SubscriberCount
from tousu.audit.configadmin import AuditedConfigAdmin


class FiguresAdmin(AuditedConfigAdmin):
    """Report denominators: edited by administrators, supervisors and managers (CSV imports:
    ``tousu analytics import-subscribers`` / ``import-hotline``)."""

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
        return self._editor(request)


@admin.register(SubscriberCount)
class SubscriberCountAdmin(FiguresAdmin):
    list_display = ["month", "region", "subscribers"]
    list_filter = ["region"]
    date_hierarchy = "month"


@admin.register(HotlineFigure)
class HotlineFigureAdmin(FiguresAdmin):
    list_display = ["day", "calls_offered", "calls_answered"]
    date_hierarchy = "day"


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(FiguresAdmin):
    """Who receives the scheduled reports (each user subscribes on the reports' own page)."""

    list_display = ["user", "frequency", "created_at"]
    list_filter = ["frequency"]
    raw_id_fields = ["user"]
