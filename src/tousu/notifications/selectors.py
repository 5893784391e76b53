"""Reads of a staff member's inbox (the notifications with ``transport=inbox`` addressed to them)."""

from __future__ import annotations

from typing import Final

from django.db.models import QuerySet

from tousu.accounts.models import User
from tousu.notifications.models import Notification, Transport
from tousu.notifications.services import inbox_unread_q

# The header badge counts unread items up to this many; above it the badge says "99+".
UNREAD_COUNT_CAP: Final = 99


def inbox_items(*, user: User) -> QuerySet[Notification]:
    """The user's inbox items, newest first, with the ticket number of their case (when they have
    one: an outage alert has none). Walks ``notification_inbox_idx`` backwards."""
    return (
        Notification.objects.filter(recipient_user=user, transport=Transport.INBOX)
        .select_related("complaint")
        .only(
            "id",
            "template",
            "subject",
            "body",
            "created_at",
            "read_at",
            "complaint_id",
            "complaint__id",
            "complaint__ticket_no",
        )
        .order_by("-created_at", "-id")
    )


def inbox_unread_count(*, user: User, cap: int = UNREAD_COUNT_CAP) -> int:
    """How many unread items the user has, counted up to ``cap + 1`` (more means "more than
    ``cap``"). One COUNT over ``notification_unread_idx``, stopping after ``cap + 1`` rows."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(inbox_unread_q(user)).order_by().values("pk")[: cap + 1].count()
