from typing import Any

from django.contrib import admin

from tousu.common.admin import ReadOnlyAdmin
from tousu.notifications.models import DeliveryAttempt, Notification, WebhookEndpoint


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "transport", "started_at", "finished_at", "outcome", "error", "response")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "template",
        "transport",
        "masked_address",
        "recipient_user",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "transport", "template"]
    fields = (
        "template",
        "transport",
        "masked_address",
        "recipient_user",
        "subject",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields
    show_full_result_count = False
    inlines = [DeliveryAttemptInline]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["id", "notification", "number", "transport", "outcome", "started_at", "finished_at"]
    list_filter = ["outcome", "transport"]
    fields = (
        "notification",
        "number",
        "transport",
        "started_at",
        "finished_at",
        "outcome",
        "error",
        "response",
    )
    readonly_fields = fields
    list_select_related = ["notification"]
    show_full_result_count = False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["id", "label", "url", "is_active", "created_at"]
    list_filter = ["is_active"]
    fields = ("label", "url", "is_active", "created_at")  # never the signing secret
    readonly_fields = fields
