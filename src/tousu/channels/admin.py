from django.contrib import admin

from tousu.channels.models import InboundEmail, MailboxState
from tousu.common.admin import ReadOnlyAdmin


@admin.register(InboundEmail)
class InboundEmailAdmin(ReadOnlyAdmin):
    list_display = ["id", "handled_at", "masked_from", "outcome", "complaint", "reason"]
    list_filter = ["outcome"]
    fields = ("message_id", "mailbox", "uid", "masked_from", "outcome", "reason", "complaint", "handled_at")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(MailboxState)
class MailboxStateAdmin(ReadOnlyAdmin):
    list_display = ["mailbox", "uidvalidity", "last_uid", "polled_at", "last_error"]
    fields = ("mailbox", "uidvalidity", "last_uid", "polled_at", "last_error")
    readonly_fields = fields
