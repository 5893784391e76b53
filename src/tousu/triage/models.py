"""Trained model versions: one row per ``tousu train`` run, its file under TOUSU_DATA_DIR and its
scores; at most one is active (none active = the model shipped inside the package)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ModelVersion(models.Model):
    version = models.CharField(_("version"), max_length=40, unique=True)
    file = models.CharField(_("file"), max_length=200, help_text=_("relative to TOUSU_DATA_DIR"))
    scores = models.JSONField(_("scores on the held-out slice"), default=dict)
    baseline_scores = models.JSONField(_("scores of the model it was compared with"), default=dict)
    trained_on = models.PositiveIntegerField(_("training cases"), default=0)
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("activated by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("classifier version")
        verbose_name_plural = _("classifier versions")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="triage_one_active_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (active)' if self.is_active else ''}"
