"""Signed survey links."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tousu.common.links import survey_token, survey_token_check, survey_url


def test_a_survey_token_names_its_case():
    assert survey_token_check(survey_token(42)) == 42


def test_a_forged_or_damaged_token_names_nothing():
    token = survey_token(42)
    assert survey_token_check(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert survey_token_check("42") is None


def test_a_token_expires_after_30_days(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    token = survey_token(7)
    time_machine.shift(timedelta(days=30, seconds=1))
    assert survey_token_check(token) is None


def test_the_url_starts_with_the_public_address(settings):
    settings.TOUSU_PUBLIC_URL = "https://tousu.example.cn"
    assert survey_url(5).startswith("https://tousu.example.cn/portal/survey/")
