"""The life of an article version, as a table: a draft is submitted, then approved (published) or
sent back by the owning department's supervisor; a newer approved version supersedes it."""

from __future__ import annotations

from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Awaiting approval")
    PUBLISHED = "published", _("Published")
    REJECTED = "rejected", _("Sent back")
    SUPERSEDED = "superseded", _("Superseded")


TRANSITIONS: Final[dict[VersionStatus, frozenset[VersionStatus]]] = {
    VersionStatus.DRAFT: frozenset({VersionStatus.PENDING}),
    VersionStatus.PENDING: frozenset({VersionStatus.PUBLISHED, VersionStatus.REJECTED}),
    VersionStatus.REJECTED: frozenset(),  # a new draft is written instead
    VersionStatus.PUBLISHED: frozenset({VersionStatus.SUPERSEDED}),
    VersionStatus.SUPERSEDED: frozenset(),
}


def can_transition(src: VersionStatus, dst: VersionStatus) -> bool:
    return dst in TRANSITIONS[src]
