"""Kinds of case events, and which of them notify someone (the outbox)."""

from __future__ import annotations

from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Not accepted")
    DISPATCHED = "dispatched", _("Dispatched")
    ASSIGNED = "assigned", _("Assigned")
    STATUS_CHANGED = "status_changed", _("Status changed")
    INFO_REQUESTED = "info_requested", _("Information requested from the customer")
    INFO_RECEIVED = "info_received", _("Customer answered")
    NOTE_ADDED = "note_added", _("Internal note")
    ATTACHMENT_ADDED = "attachment_added", _("Evidence attached")
    PLAN_PROPOSED = "plan_proposed", _("Resolution plan proposed")
    REMEDY_REQUESTED = "remedy_requested", _("Remedy requested")
    REMEDY_APPROVED = "remedy_approved", _("Remedy approved")
    REMEDY_REFUSED = "remedy_refused", _("Remedy refused")
    REPLIED = "replied", _("Replied to the customer")
    RETURN_VISIT = "return_visit", _("Return visit")
    RETURN_VISIT_UNREACHED = "return_visit_unreached", _("Return visit: customer not reached")
    REOPENED = "reopened", _("Reopened")
    ESCALATED = "escalated", _("Escalated")
    WITHDRAWN = "withdrawn", _("Withdrawn by the customer")
    CLOSED = "closed", _("Closed")
    CUSTOMER_MERGED = "customer_merged", _("Customer records merged")
    PERSONAL_DATA_REVEALED = "personal_data_revealed", _("Personal data revealed")
    LEVEL_CHANGED = "level_changed", _("Level changed")
    RECLASSIFIED = "reclassified", _("Reclassified")
    THREAT_FLAGGED = "threat_flagged", _("Threatens regulator, media or court")
    SLA_WARNING = "sla_warning", _("Deadline approaching")
    SLA_BREACHED = "sla_breached", _("Deadline missed")
    CUSTOMER_NOTE = "customer_note", _("Note from the customer")
    DESCRIPTION_AMENDED = "description_amended", _("Description amended")
    CUSTOMER_LINKED = "customer_linked", _("Customer identified")
    TICKET_UPDATED = "ticket_updated", _("Ticket details updated by the channel")
    CLASSIFIED = "classified", _("Classified (category and level)")
    LINKED = "linked", _("Linked to an earlier case (repeat or duplicate)")
    UNLINKED = "unlinked", _("Link to another case removed")


# Events that someone must be told about; the worker turns them into notifications.
NOTIFYING: Final = frozenset(
    {
        EventKind.ACCEPTED,
        EventKind.REJECTED,
        EventKind.DISPATCHED,
        EventKind.ASSIGNED,
        EventKind.INFO_REQUESTED,
        EventKind.REMEDY_REQUESTED,
        EventKind.REPLIED,
        EventKind.REOPENED,
        EventKind.ESCALATED,
        EventKind.WITHDRAWN,
        EventKind.SLA_WARNING,
        EventKind.SLA_BREACHED,
        # TMF621 hub events (status and attribute changes) for webhook subscribers.
        EventKind.STATUS_CHANGED,
        EventKind.INFO_RECEIVED,
        EventKind.PLAN_PROPOSED,
        EventKind.REMEDY_APPROVED,
        EventKind.REMEDY_REFUSED,
        EventKind.RETURN_VISIT,
        EventKind.CLOSED,
        EventKind.LEVEL_CHANGED,
    }
)
