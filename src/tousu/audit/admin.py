from django.contrib import admin

from tousu.accounts.roles import Cap
from tousu.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for auditors and administrators; nobody edits the log."""

    list_display = [
        "created_at",
        "actor_label",
        "kind",
        "object_type",
        "object_id",
        "complaint_id",
        "field",
        "via",
        "ip",
    ]
    list_filter = ["kind", "via", "object_type"]
    search_fields = ["actor_label", "object_id", "ip"]
    date_hierarchy = "created_at"
    list_select_related = False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and (request.user.is_superuser or request.user.can(Cap.AUDIT_READ))

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
