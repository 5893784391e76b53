"""The customer portal: public pages to file, track, answer the survey and withdraw."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TrackingCode(models.Model):
    """One one-time code sent by SMS to the phone on record of a case, so its customer can follow
    it on the portal. Only a keyed hash of the code is stored; a code works once, until it expires,
    for a few wrong guesses at most, and only in the browser session that asked for it and for the
    phone it was sent to. A newer code for the same case replaces the older ones."""

    complaint = models.ForeignKey(
        "complaints.Complaint", on_delete=models.CASCADE, related_name="tracking_codes"
    )
    phone = models.CharField(_("phone (E.164)"), max_length=20)
    code_hash = models.CharField(_("code hash"), max_length=64)
    # Keyed hash of a random value kept in the session that asked: the code works in it only.
    binding_hash = models.CharField(_("session binding hash"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"))
    attempts = models.PositiveSmallIntegerField(_("wrong attempts"), default=0)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tracking code")
        verbose_name_plural = _("tracking codes")
        indexes = [models.Index(fields=["complaint", "created_at"], name="tracking_code_case_idx")]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.created_at:%Y-%m-%d %H:%M}"
