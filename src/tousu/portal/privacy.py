"""What erasure (``tousu.privacy``) does to the portal's rows: tracking codes (sent to the
customer's phone) are deleted."""

from __future__ import annotations

from django.db.models import Q

from tousu.portal.models import TrackingCode
from tousu.privacy.erasure import Subject, erasure_handler


@erasure_handler(TrackingCode)
def tracking_codes_erase(subject: Subject) -> int:
    found = TrackingCode.objects.filter(Q(complaint__in=subject.case_ids) | Q(phone__in=subject.phones))
    return found.delete()[0]
