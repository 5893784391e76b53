"""Intake adapters that feed the case services: e-mail in, regulator referrals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.common.masking import mask_email


class MailboxState(models.Model):
    """How far the worker has read one IMAP folder: the highest UID handled under its UIDVALIDITY
    (a new UIDVALIDITY starts again from the first message; Message-IDs keep that from repeating)."""

    mailbox = models.CharField(_("mailbox"), max_length=300, unique=True)
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), default=0)
    last_uid = models.BigIntegerField(_("last UID handled"), default=0)
    polled_at = models.DateTimeField(_("last poll"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.mailbox


class InboundOutcome(models.TextChoices):
    CASE_CREATED = "case", _("Case created")
    NOTE_ADDED = "note", _("Added to a case")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class InboundEmail(models.Model):
    """One e-mail the intake has handled, once per Message-ID: what became of it and why."""

    message_id = models.CharField(_("Message-ID"), max_length=100, unique=True)
    mailbox = models.CharField(_("mailbox"), max_length=300, blank=True)
    uid = models.BigIntegerField(_("UID"), null=True, blank=True)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=InboundOutcome.choices)
    reason = models.TextField(_("reason"), blank=True)
    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("handled"))

    class Meta:
        ordering = ["-handled_at", "-id"]
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")

    def __str__(self) -> str:
        return f"{self.masked_from} {self.outcome}"

    @property
    def masked_from(self) -> str:
        return mask_email(self.from_address)
