from django.contrib import admin

from tousu.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
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
    fields = [
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
    ]
    readonly_fields = [
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
    ]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
