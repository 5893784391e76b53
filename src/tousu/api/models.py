"""API keys and TMF621 hub subscriptions.

A key is shown once, when it is created; only its SHA-256 and an 8-character lookup prefix are
stored. Writes through the API are made by the system (``actor=None``) on behalf of the key,
whose label is recorded in each event's ``via``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.complaints.choices import Channel


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


class HubSubscription(models.Model):
    """A TMF621 event subscription (``POST /hub``): deliveries go to its webhook endpoint."""

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
    created_at = models.DateTimeField(_("created"))
    # ``DELETE /hub/{id}`` ends a subscription without deleting it: its deliveries and their
    # attempts stay on record; nothing new is sent to it.
    deactivated_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("event subscription")
        verbose_name_plural = _("event subscriptions")

    def __str__(self) -> str:
        return f"{self.pk}: {self.endpoint.url}"
