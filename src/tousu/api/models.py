"""API keys and TMF621 hub subscriptions.

A key is shown once, when it is created; only its SHA-256 and an 8-character lookup prefix are
stored. Writes through the API are made by the system (``actor=None``) on behalf of the key,
whose label is recorded in each event's ``via``.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from tousu.complaints.choices import Channel, Level


class Scope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")
    ADMIN = "admin", _("Read, write and delete")


class ApiKey(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    prefix = models.CharField(_("prefix"), max_length=8, unique=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    channel = models.CharField(
        _("channel"),
        max_length=20,
        choices=Channel.choices,
        help_text=_("Cases created with this key come in on this channel."),
    )
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.READ)
    all_channels = models.BooleanField(
        _("all channels"),
        default=False,
        help_text=_("May read and change cases of every channel, not only its own."),
    )
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        help_text=_("Empty: the TOUSU_API_RATE_LIMIT setting."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__in=[c.value for c in Channel]), name="apikey_channel_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(scope__in=[s.value for s in Scope]), name="apikey_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope in (Scope.WRITE, Scope.ADMIN)

    @property
    def can_delete(self) -> bool:
        return self.scope == Scope.ADMIN


class ApiVersion(models.TextChoices):
    V4 = "v4", "TMF621 v4"
    V5 = "v5", "TMF621 v5"


class HubSubscription(models.Model):
    """A TMF621 event subscription (``POST /hub``): deliveries go to its webhook endpoint, in the
    shapes of the API version it was made through (``version``)."""

    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API key"), on_delete=models.CASCADE, related_name="subscriptions"
    )
    endpoint = models.OneToOneField(
        "notifications.WebhookEndpoint",
        verbose_name=_("webhook endpoint"),
        on_delete=models.CASCADE,
        related_name="hub_subscription",
    )
    query = models.CharField(_("query"), max_length=500, blank=True)
    version = models.CharField(
        _("API version"),
        max_length=2,
        choices=ApiVersion.choices,
        default=ApiVersion.V4,
        help_text=_("The TMF621 version the subscription was made through; its events are drawn in it."),
    )
    created_at = models.DateTimeField(_("created"))
    # ``DELETE /hub/{id}`` ends a subscription without deleting it: its deliveries and their
    # attempts stay on record; nothing new is sent to it.
    deactivated_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("event subscription")
        verbose_name_plural = _("event subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(version__in=[v.value for v in ApiVersion]),
                name="hub_subscription_version_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pk}: {self.endpoint.url}"


class SeverityMapping(models.Model):
    """One TMF621 ``severity`` value (compared case-insensitively) and the Tousu level it gives a
    new case. A severity no row names gives the default level; a Tousu level code is understood
    without a row."""

    value = models.CharField(
        _("severity"), max_length=100, unique=True, help_text=_("As clients send it, e.g. Major.")
    )
    level = models.CharField(_("level"), max_length=20, choices=Level.choices)

    class Meta:
        ordering = ["value"]
        verbose_name = _("TMF severity mapping")
        verbose_name_plural = _("TMF severity mappings")
        constraints = [
            models.UniqueConstraint(Lower("value"), name="severity_mapping_value_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(level__in=[c.value for c in Level]), name="severity_mapping_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} → {self.level}"


class TicketTypeMapping(models.Model):
    """One TMF621 ``ticketType`` value (compared case-insensitively) and the category it gives a
    new case; no category: the case is "to be classified". A value no row names is looked up as a
    category code, then as a category name; failing those the case is to be classified too."""

    value = models.CharField(
        _("ticket type"), max_length=100, unique=True, help_text=_("As clients send it, e.g. complaint.")
    )
    category = models.ForeignKey(
        "complaints.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("A sub-category. Empty: to be classified."),
    )

    class Meta:
        ordering = ["value"]
        verbose_name = _("TMF ticket type mapping")
        verbose_name_plural = _("TMF ticket type mappings")
        constraints = [
            models.UniqueConstraint(Lower("value"), name="ticket_type_mapping_value_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.value


class TicketAttributes(models.Model):
    """The TMF621 attributes one case was given by its channel, kept exactly as sent and returned
    as such: the standard meaning of ``severity`` and ``ticketType`` stays the client's, while the
    case has Tousu's level and category (mapped through the tables above)."""

    complaint = models.OneToOneField(
        "complaints.Complaint", primary_key=True, on_delete=models.CASCADE, related_name="tmf"
    )
    severity = models.CharField(_("severity"), max_length=100, blank=True)
    ticket_type = models.CharField(_("ticket type"), max_length=100, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    priority = models.CharField(_("priority"), max_length=100, blank=True)
    requested_resolution_date = models.DateTimeField(_("requested resolution date"), null=True, blank=True)
    # Standard sub-resources kept as sent (references the case does not interpret).
    channel = models.JSONField(_("channel"), default=dict, blank=True)
    related_party = models.JSONField(_("related parties"), default=list, blank=True)
    related_entity = models.JSONField(_("related entities"), default=list, blank=True)
    relationship = models.JSONField(_("ticket relationships"), default=list, blank=True)
    attachment_refs = models.JSONField(_("attachments by reference"), default=list, blank=True)
    characteristic = models.JSONField(_("characteristics"), default=list, blank=True)
    external_identifier = models.JSONField(_("external identifiers"), default=list, blank=True)

    class Meta:
        verbose_name = _("TMF ticket attributes")
        verbose_name_plural = _("TMF ticket attributes")
        indexes = [
            models.Index(fields=["severity"], name="ticket_attr_severity_idx"),
            models.Index(fields=["ticket_type"], name="ticket_attr_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id}: {self.ticket_type} / {self.severity}"
