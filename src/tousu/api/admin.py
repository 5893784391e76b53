from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tousu.api.keys import apikey_create, apikey_forget
from tousu.api.models import ApiKey, HubSubscription, SeverityMapping, TicketTypeMapping
from tousu.audit.configadmin import AuditedConfigAdmin, config_audit, config_snapshot
from tousu.common.origin import Origin


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedConfigAdmin):
    """Keys are created here or with `tousu apikey create`; the secret is shown once, in a message."""

    list_display = (
        "name",
        "prefix",
        "channel",
        "scope",
        "all_channels",
        "rate_limit",
        "is_active",
        "created_at",
    )
    list_filter = ("channel", "scope", "is_active")
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    fields = (
        "name",
        "channel",
        "scope",
        "all_channels",
        "rate_limit",
        "is_active",
        "prefix",
        "created_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        if obj is None:
            return ("prefix", "created_at", "revoked_at", "is_active")
        return (*self.readonly_fields, "name", "channel")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            apikey_forget()
            return
        key, token = apikey_create(
            name=obj.name,
            channel=obj.channel,
            scope=obj.scope,
            all_channels=obj.all_channels,
            rate_limit=obj.rate_limit,
        )
        obj.pk = key.pk
        obj.prefix, obj.key_hash, obj.created_at = key.prefix, key.key_hash, key.created_at
        self.message_user(
            request,
            _("API key created. Copy it now, it is not shown again: %(token)s") % {"token": token},
            messages.WARNING,
        )

    @admin.action(description=gettext_lazy("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset) -> None:
        from django.utils import timezone

        keys = list(queryset.filter(is_active=True))
        before = {key.pk: config_snapshot(key) for key in keys}
        queryset.filter(pk__in=before).update(is_active=False, revoked_at=timezone.now())
        for key in ApiKey.objects.filter(pk__in=before):
            config_audit(
                actor=request.user,
                obj=key,
                action="revoked",
                before=before[key.pk],
                after=config_snapshot(key),
                origin=Origin.from_request(request),
            )
        apikey_forget()


@admin.register(HubSubscription)
class HubSubscriptionAdmin(AuditedConfigAdmin):
    list_display = ("id", "endpoint", "api_key", "version", "query", "created_at")
    readonly_fields = ("api_key", "endpoint", "version", "query", "created_at")


@admin.register(SeverityMapping)
class SeverityMappingAdmin(AuditedConfigAdmin):
    """TMF621 severity → Tousu level for new cases (compared case-insensitively)."""

    list_display = ("value", "level")
    list_filter = ("level",)
    search_fields = ("value",)


@admin.register(TicketTypeMapping)
class TicketTypeMappingAdmin(AuditedConfigAdmin):
    """TMF621 ticketType → category for new cases; no category: to be classified."""

    list_display = ("value", "category")
    search_fields = ("value",)
    autocomplete_fields = ()
    list_select_related = ("category", "category__parent")
