from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from tousu.audit.configadmin import AuditedConfigAdmin
from tousu.common.admin import ReadOnlyAdmin
from tousu.triage.models import Classification, ModelVersion, RoutingRule
from tousu.triage.services import model_activate, model_deactivate_all


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedConfigAdmin):
    list_display = ["version", "is_active", "trained_on", "scores", "baseline_scores", "created_at"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate", "back_to_shipped"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Activate the selected version"))
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        model_activate(version=queryset.get().version, actor=request.user)
        self.message_user(request, _("Version activated."))

    @admin.action(description=_("Go back to the shipped model"))
    def back_to_shipped(self, request, queryset):
        model_deactivate_all(actor=request.user)
        self.message_user(request, _("The shipped model is in force."))


@admin.register(Classification)
class ClassificationAdmin(ReadOnlyAdmin):
    list_display = [
        "complaint",
        "subcategory",
        "level",
        "confidence",
        "escalation_risk",
        "outcome",
        "created_at",
    ]
    list_filter = ["outcome", "model_version"]
    readonly_fields = [f.name for f in Classification._meta.fields]


@admin.register(RoutingRule)
class RoutingRuleAdmin(AuditedConfigAdmin):
    list_display = ["category", "region", "business_type", "department", "priority", "is_active"]
    list_filter = ["is_active", "business_type", "department"]
    list_editable = ["department", "priority", "is_active"]
