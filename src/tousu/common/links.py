"""Signed links sent to customers: the return-visit survey of a case.

The token is the case id signed with the secret key (``django.core.signing``), so the portal can
trust it without a table; it expires after ``SURVEY_MAX_AGE``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

SURVEY_SALT = "tousu.survey"
SURVEY_MAX_AGE = timedelta(days=30)


def survey_token(complaint_id: int) -> str:
    return signing.dumps(complaint_id, salt=SURVEY_SALT, compress=False)


def survey_token_check(token: str) -> int | None:
    """The case id the token was made for, or None when it is forged, damaged or expired."""
    try:
        value = signing.loads(token, salt=SURVEY_SALT, max_age=SURVEY_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def survey_url(complaint_id: int) -> str:
    return f"{settings.TOUSU_PUBLIC_URL}/portal/survey/{survey_token(complaint_id)}/"
