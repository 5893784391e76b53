"""Records of what the privacy duties did: erasures (processing records, kept ≥ 3 years)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ErasureRecord(models.Model):
    """One erasure of a customer's personal data: who asked, why, and how many values went where.

    The customer is named only by a keyed hash of the phone it was asked for (so a second request
    for the same number can be recognised) and by row ids; the reason is stored masked.
    """

    created_at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    subject_digest = models.CharField(_("subject (keyed hash)"), max_length=64)
    customer_ids = models.JSONField(_("customer ids"), default=list)
    reason = models.TextField(_("reason"))
    counts = models.JSONField(_("rows and files changed"), default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.subject_digest[:20]}"


class RetentionMark(models.Model):
    """One row already anonymised by the retention run (so a run never redoes it): a closed case."""

    kind = models.CharField(_("kind"), max_length=20)
    object_id = models.BigIntegerField(_("object id"))
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("retention mark")
        verbose_name_plural = _("retention marks")
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="retention_mark_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
