from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.accounts.roles import DEFAULT_APPROVAL_LIMITS, Cap, Role, role_has
from tousu.common.names import in_active_language


class Department(models.Model):
    """One organisational unit that owns cases: customer service, billing, network, legal…"""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the active language (the English name in the English UI, when set)."""
        return in_active_language(self.name, self.name_en)


class Region(models.Model):
    """One service area (city or county). Rural areas get the longer legal repair limit."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_rural = models.BooleanField(_("rural"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """One member of staff who signs in. Their role decides what they may do, their department
    which cases they see (for handlers)."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AGENT)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    # Sign-in lockout (written only by ``tousu.accounts.services.auth_sign_in``).
    failed_logins = models.PositiveSmallIntegerField(_("failed sign-ins in a row"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    def can(self, cap: Cap) -> bool:
        return self.is_active and role_has(self.role, cap)


class ApprovalLimit(models.Model):
    """The highest remedy amount (元) a role may approve. Empty means no upper limit."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, unique=True)
    max_amount = models.DecimalField(
        _("maximum amount (元)"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["role"]
        verbose_name = _("approval limit")
        verbose_name_plural = _("approval limits")

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.max_amount if self.max_amount is not None else '∞'}"


def approval_limit_for(role: str) -> Decimal | None:
    """The approval limit of a role: the configured row, else the default; ``Decimal(0)`` if none.

    ``None`` means unlimited.
    """
    row = ApprovalLimit.objects.filter(role=role).first()
    if row is not None:
        return row.max_amount
    try:
        default = DEFAULT_APPROVAL_LIMITS[Role(role)]
    except (KeyError, ValueError):
        return Decimal(0)
    return None if default is None else Decimal(default)
