from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import ApprovalLimit, Department, Region, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_rural"]
    list_filter = ["is_rural"]
    search_fields = ["code", "name"]


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(admin.ModelAdmin):
    list_display = ["role", "max_amount"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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
