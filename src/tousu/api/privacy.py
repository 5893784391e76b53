"""What erasure (``tousu.privacy``) does to the TMF621 attributes kept with a case: contacts,
names and free values lose the customer's identifiers."""

from __future__ import annotations

from tousu.api.models import TicketAttributes
from tousu.privacy.erasure import Subject, erasure_handler, scrub_rows

_FIELDS = [
    "name",
    "related_party",
    "related_entity",
    "characteristic",
    "external_identifier",
    "attachment_refs",
    "channel",
]


@erasure_handler(TicketAttributes)
def ticket_attributes_erase(subject: Subject) -> int:
    rows = TicketAttributes.objects.filter(complaint__in=subject.case_ids).only("pk", *_FIELDS)
    return scrub_rows(TicketAttributes, rows, _FIELDS, subject)
