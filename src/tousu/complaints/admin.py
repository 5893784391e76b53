from django.contrib import admin

from tousu.audit.configadmin import AuditedConfigAdmin
from tousu.common.admin import ReadOnlyAdmin
from tousu.complaints.models import Category, CategorySynonym, Complaint, ComplaintEvent


@admin.register(Category)
class CategoryAdmin(AuditedConfigAdmin):
    list_display = [
        "code",
        "name",
        "parent",
        "regulator_group",
        "default_department",
        "sort_order",
        "is_active",
    ]
    list_filter = ["regulator_group", "is_active", "parent"]
    search_fields = ["code", "name", "name_en"]
    list_select_related = ["parent", "default_department"]


@admin.register(CategorySynonym)
class CategorySynonymAdmin(AuditedConfigAdmin):
    list_display = ["word", "category"]
    search_fields = ["word", "category__name", "category__name_en", "category__code"]
    list_select_related = ["category", "category__parent"]
    autocomplete_fields = ["category"]


class EventInline(admin.TabularInline):
    model = ComplaintEvent
    fields = ["created_at", "kind", "actor_label", "from_status", "to_status", "payload"]
    readonly_fields = ["created_at", "kind", "actor_label", "from_status", "to_status", "payload"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "ticket_no",
        "status",
        "level",
        "channel",
        "category",
        "lead_department",
        "escalation_level",
        "registered_at",
    ]
    list_filter = ["status", "level", "channel", "escalation_level"]
    search_fields = ["ticket_no"]
    date_hierarchy = "registered_at"
    list_select_related = ["category", "category__parent", "lead_department"]
    show_full_result_count = False
    exclude = ["customer", "service_number"]
    readonly_fields = ["masked_customer", "masked_service_number"]
    inlines = [EventInline]

    @admin.display(description="customer")
    def masked_customer(self, obj):
        return str(obj.customer)
