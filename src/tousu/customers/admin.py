from django.contrib import admin

from tousu.common.admin import ReadOnlyAdmin
from tousu.customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Masked, read-only: personal data is revealed only through the audited services."""

    list_display = [
        "id",
        "masked_name",
        "masked_phone",
        "region",
        "is_blacklisted",
        "merged_into",
        "created_at",
    ]
    list_filter = ["is_blacklisted", "region"]
    fields = (
        "masked_name",
        "masked_phone",
        "masked_email",
        "region",
        "is_blacklisted",
        "blacklist_reason",
        "merged_into",
    )
    readonly_fields = fields
    show_full_result_count = False
