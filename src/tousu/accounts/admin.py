from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import ApprovalLimit, Department, Region, User
from tousu.audit.configadmin import AuditedConfigAdmin, config_audit, config_snapshot
from tousu.common.origin import Origin

admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(AuditedConfigAdmin, BaseGroupAdmin):
    """Django's permission groups, audited like the rest of the configuration."""


@admin.register(Department)
class DepartmentAdmin(AuditedConfigAdmin):
    list_display = ["code", "name", "name_en", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Region)
class RegionAdmin(AuditedConfigAdmin):
    list_display = ["code", "name", "is_rural"]
    list_filter = ["is_rural"]
    search_fields = ["code", "name"]


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(AuditedConfigAdmin):
    list_display = ["role", "max_amount"]


@admin.register(User)
class UserAdmin(AuditedConfigAdmin, BaseUserAdmin):
    list_display = ["username", "display_name", "role", "department", "is_active", "last_login"]
    list_filter = ["role", "department", "is_active"]
    search_fields = ["username", "display_name", "email"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Tousu"), {"fields": ("display_name", "role", "department")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Tousu"), {"fields": ("display_name", "role", "department")}),
    )

    def user_change_password(self, request: Any, id: str, form_url: str = "") -> Any:
        """The admin's password page saves outside ``save_model``: audited here ("changed", never
        the hash)."""
        user = self.get_object(request, id)
        before = config_snapshot(user)
        response = super().user_change_password(request, id, form_url)
        if user is not None and request.method == "POST" and response.status_code == 302:
            config_audit(
                actor=request.user,
                obj=user,
                action="password changed",
                before=before,
                after=config_snapshot(User.objects.get(pk=user.pk)),
                origin=Origin.from_request(request),
            )
        return response
