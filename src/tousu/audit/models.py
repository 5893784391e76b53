from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditKind(models.TextChoices):
    PERSONAL_DATA_READ = "personal_data.read", _("Personal data read")
    PERSONAL_DATA_REVEALED = "personal_data.revealed", _("Personal data revealed")
    PERSONAL_DATA_EXPORTED = "personal_data.exported", _("Personal data exported")
    CUSTOMER_MERGED = "customer.merged", _("Customer records merged")
    CUSTOMER_BLACKLISTED = "customer.blacklisted", _("Customer blacklist changed")
    ACCESS_DENIED = "access.denied", _("Access denied")
    SIGNED_IN = "sign_in", _("Signed in")
    CONFIG_CHANGED = "config.changed", _("Configuration changed")
    PERSONAL_DATA_ERASED = "personal_data.erased", _("Personal data erased")
    PERSONAL_DATA_PURGED = "personal_data.purged", _("Personal data purged (retention)")


class AuditEvent(models.Model):
    """One access to personal data or one sensitive action: who, when, what, from where.

    Append-only: rows are never updated or deleted by the application (kept ≥ 6 months for access
    logs, ≥ 3 years for processing records).
    """

    created_at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("actor label"), max_length=150, blank=True)
    kind = models.CharField(_("kind"), max_length=40, choices=AuditKind.choices)
    object_type = models.CharField(_("object type"), max_length=40)
    object_id = models.CharField(_("object id"), max_length=40)
    complaint_id = models.BigIntegerField(_("case id"), null=True, blank=True, db_index=True)
    field = models.CharField(_("field"), max_length=40, blank=True)
    via = models.CharField(_("via"), max_length=120, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    # The hash chain (tamper evidence, docs/adr/0021): the sealer (``audit_seal``) gives each
    # committed row the next place in the chain and hashes the previous row's hash with its content.
    chain_seq = models.BigIntegerField(_("place in the hash chain"), null=True, blank=True, unique=True)
    row_hash = models.CharField(_("chain hash"), max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["object_type", "object_id", "created_at"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.kind} {self.object_type}#{self.object_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("Audit events are append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class AuditChainHead(models.Model):
    """The end of the audit log's hash chain (one row): the last sealed place and its hash, so
    deleting the newest rows is detected too."""

    seq = models.BigIntegerField(_("last place"), default=0)
    row_hash = models.CharField(_("last hash"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"{self.seq} {self.row_hash[:12]}"
