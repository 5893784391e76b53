from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import Region
from tousu.common.masking import mask_account, mask_email, mask_id_number, mask_name, mask_phone


class Customer(models.Model):
    """One person or company that complains, however many channels and numbers they use.

    A record merged into another keeps its row (``merged_into`` set) so history stays explainable.
    """

    name = models.CharField(_("name"), max_length=100, blank=True)
    phone = models.CharField(_("phone (E.164)"), max_length=20, blank=True, db_index=True)
    email = models.EmailField(_("e-mail"), blank=True)
    wechat_id = models.CharField(_("WeChat id"), max_length=64, blank=True)
    id_number = models.CharField(_("ID number"), max_length=32, blank=True)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.SET_NULL
    )
    is_blacklisted = models.BooleanField(_("blacklisted"), default=False)
    blacklist_reason = models.CharField(_("blacklist reason"), max_length=200, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # The search box finds a customer's cases by the exact name (``tousu.complaints.search``).
        # The phone's last digits are found through a PostgreSQL-only index over the reversed
        # number (migration 0002).
        indexes = [models.Index(fields=["name"], name="customer_name_idx")]

    def __str__(self) -> str:
        return f"{mask_name(self.name) or '—'} {mask_phone(self.phone)}".strip()

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def masked_email(self) -> str:
        return mask_email(self.email)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)


class IdentityKind(models.TextChoices):
    PHONE = "phone", _("Phone number")
    SERVICE_NUMBER = "service_number", _("Service number")
    ACCOUNT = "account", _("Account")
    EMAIL = "email", _("E-mail")
    WECHAT = "wechat", _("WeChat id")


class CustomerIdentity(models.Model):
    """One way to recognise a customer on some channel (a phone number, an account, an e-mail…).

    Each identity belongs to one customer at a time, so a second channel finds the same customer.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=20, choices=IdentityKind.choices)
    value = models.CharField(_("value"), max_length=254)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer identity")
        verbose_name_plural = _("customer identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_unique_kind_value"),
            models.CheckConstraint(
                condition=models.Q(kind__in=IdentityKind.values), name="identity_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.masked_value}"

    @property
    def masked_value(self) -> str:
        if self.kind == IdentityKind.PHONE:
            return mask_phone(self.value)
        if self.kind == IdentityKind.EMAIL:
            return mask_email(self.value)
        return mask_account(self.value)
