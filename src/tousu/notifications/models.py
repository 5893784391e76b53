from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.common.masking import mask_email, mask_phone
from tousu.common.onetime import onetime_reveal


class Transport(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    INBOX = "inbox", _("Staff inbox")
    WEBHOOK = "webhook", _("Webhook")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class WebhookEndpoint(models.Model):
    """A URL that receives signed JSON posts (HMAC-SHA256 of the body with ``secret``). The TMF621
    event hub creates one per subscription; deliveries go through the same outbox as messages."""

    url = models.URLField(_("callback URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=128)
    label = models.CharField(_("label"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.label or self.url


class Notification(models.Model):
    """One message to one recipient, made by the worker from a case event and delivered with
    retries. Customer messages carry the address at the time of sending; staff messages land in
    the recipient's inbox."""

    key = models.CharField(_("key"), max_length=300, unique=True)  # one per event, template and recipient
    # Most notifications come from a case event; a few do not (a one-time code for the portal).
    event = models.ForeignKey(
        "complaints.ComplaintEvent",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    complaint = models.ForeignKey(
        "complaints.Complaint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    webhook = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    template = models.CharField(_("template"), max_length=40)
    transport = models.CharField(_("transport"), max_length=10, choices=Transport.choices)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    address = models.CharField(_("address"), max_length=500, blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))  # a one-time code is masked here (see ``clear_body``)
    # Set for a message carrying a one-time code: the code is derived from it at send time
    # (tousu.common.onetime), so the clear code is never stored.
    secret_seed = models.CharField(_("secret seed"), max_length=64, blank=True, editable=False)
    # One file sent with an e-mail (a scheduled report's .xlsx): its name, media type and bytes.
    attachment_name = models.CharField(_("attachment name"), max_length=200, blank=True)
    attachment_type = models.CharField(_("attachment type"), max_length=100, blank=True)
    attachment = models.BinaryField(_("attachment"), null=True, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(status="pending"), name="notification_due_idx"
            ),
            # A person's inbox, newest first (also the recipient foreign key's index).
            models.Index(fields=["recipient_user", "created_at", "id"], name="notification_inbox_idx"),
            # The unread count in every staff page's header: one small partial index per COUNT.
            models.Index(
                fields=["recipient_user"],
                condition=models.Q(transport="inbox", read_at__isnull=True),
                name="notification_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.masked_address or self.recipient_user}"

    def clear_body(self) -> str:
        """The text as it reaches the recipient, the one-time code put back (in memory only): for
        the transports that deliver; logs and the development outbox file keep ``body``."""
        return onetime_reveal(self.body, self.secret_seed)

    @property
    def masked_address(self) -> str:
        if self.transport == Transport.SMS:
            return mask_phone(self.address)
        if self.transport == Transport.EMAIL:
            return mask_email(self.address)
        return ""


class AttemptOutcome(models.TextChoices):
    IN_FLIGHT = "in_flight", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    LOST = "lost", _("Lost (worker stopped)")


class DeliveryAttempt(models.Model):
    """One try at sending a notification: when, how it ended, and what the transport answered (the
    SMTP server's reply, the gateway's HTTP status). Written by the worker only."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveSmallIntegerField(_("attempt"))
    transport = models.CharField(_("transport"), max_length=10, choices=Transport.choices)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=AttemptOutcome.choices, default=AttemptOutcome.IN_FLIGHT
    )
    error = models.TextField(_("error"), blank=True)
    response = models.CharField(_("transport response"), max_length=500, blank=True)

    class Meta:
        ordering = ["notification", "number"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        constraints = [
            models.UniqueConstraint(fields=["notification", "number"], name="delivery_attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} #{self.number} {self.outcome}"


class CustomerLanguage(models.Model):
    """The language a customer wants their messages in. A customer without a row gets
    ``LANGUAGE_CODE``. Set by the channels that learn it (the portal in English, say)."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="message_language"
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("customer language")
        verbose_name_plural = _("customer languages")

    def __str__(self) -> str:
        return self.language
