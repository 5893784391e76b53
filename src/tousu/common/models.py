"""The one table ``common`` keeps: form tokens already used (see ``tousu.common.formtokens``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class UsedFormToken(models.Model):
    """One form submission that went through: the one-time token the form carried and the address
    its first answer sent the browser to, so a double submit or a replay gets that answer again
    instead of doing the work twice. Rows older than a day are purged by the worker."""

    token = models.CharField(_("token"), max_length=64, unique=True)
    result_url = models.CharField(_("result address"), max_length=2000, blank=True)
    used_at = models.DateTimeField(_("used"), db_index=True)

    class Meta:
        verbose_name = _("used form token")
        verbose_name_plural = _("used form tokens")

    def __str__(self) -> str:
        return f"{self.token[:8]}… → {self.result_url}"
