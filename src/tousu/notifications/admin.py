from django.contrib import admin

from tousu.common.admin import ReadOnlyAdmin
from tousu.notifications.models import Notification, WebhookEndpoint


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


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["id", "label", "url", "is_active", "created_at"]
    list_filter = ["is_active"]
    fields = ("label", "url", "is_active", "created_at")  # never the signing secret
    readonly_fields = fields
