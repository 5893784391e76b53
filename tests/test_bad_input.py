"""Bad input anywhere is refused with a clear message and changes nothing (issue 9, points 11, 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tousu.common.errors import ValidationError
from tousu.common.phone import normalize_phone
from tousu.complaints import services as svc
from tousu.complaints.models import ResolutionPlan
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("raw", ["+86 138 0013 8000 ext 99", "13800138000 x12", "138-0013-8000 ext. 5"])
def test_a_phone_number_with_an_extension_is_refused(raw):
    with pytest.raises(ValidationError) as err:
        normalize_phone(raw, field="phone")
    assert err.value.message == f"'{raw}' has an extension; give the phone number without it."
    assert err.value.fields == {"phone": "has an extension"}


def test_a_phone_number_without_an_extension_still_parses():
    assert normalize_phone("+86 138 0013 8000") == "+8613800138000"


def test_a_plan_deadline_beyond_a_year_is_refused(cases, people, unchanged):
    c = cases.make(Status.INVESTIGATING)
    base = {
        "actor": people["handler"],
        "complaint_id": c.pk,
        "kind": "immediate",
        "measures": "退还错收的30元",
        "responsible_id": people["handler"].pk,
    }
    for deadline in (datetime(9999, 12, 31, tzinfo=UTC), timezone.now() + timedelta(days=367)):
        with unchanged(), pytest.raises(ValidationError) as err:
            svc.complaint_propose_plan(**base, deadline=deadline)
        assert err.value.message == "The plan's deadline must be within 366 days from now."
        assert err.value.fields == {"deadline": "too far ahead"}
    svc.complaint_propose_plan(**base, deadline=timezone.now() + timedelta(days=365))
    assert ResolutionPlan.objects.filter(complaint=c).count() == 1
