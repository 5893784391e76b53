"""One-time form tokens: a double submit or a replay does the work once and answers like the first
time; a form that came back with errors releases its token; forms without a token work as before."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from tests.test_portal import FILE, FILED, filing
from tests.test_web_register import form as register_form
from tousu.common.formtokens import FIELD, form_tokens_purge
from tousu.common.models import UsedFormToken
from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db

TOKEN = re.compile(rf'<input type="hidden" name="{FIELD}" value="([A-Za-z0-9_-]+)">')
ALREADY = "This form was already sent; this is what it did."


@pytest.fixture(autouse=True)
def _isolated():
    ratelimit_reset()
    with translation.override(translation.get_language()):
        yield
    ratelimit_reset()


@pytest.fixture
def web(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.cookies["django_language"] = "en"
    return client


def token_on(web, url: str) -> str:
    html = web.get(url).content.decode()
    tokens = TOKEN.findall(html)
    assert tokens, f"no form token on {url}"
    return tokens[0]


def notes(c: Complaint) -> list[str]:
    return [
        e.payload["text"]
        for e in ComplaintEvent.objects.filter(complaint_id=c.pk, kind="note_added").order_by("id")
    ]


# --- registration ---------------------------------------------------------------------------------


def test_a_double_submitted_registration_creates_one_case_and_answers_twice_alike(web, people, org):
    web.force_login(people["agent"])
    token = token_on(web, "/register/")
    first = web.post("/register/", {**register_form(org), FIELD: token})
    second = web.post("/register/", {**register_form(org), FIELD: token})
    complaint = Complaint.objects.get()
    assert (first.status_code, first["Location"]) == (302, f"/register/?done={complaint.pk}")
    assert (second.status_code, second["Location"]) == (302, f"/register/?done={complaint.pk}")
    assert ComplaintEvent.objects.filter(kind="registered").count() == 1
    assert list(UsedFormToken.objects.values_list("token", "result_url")) == [
        (token, f"/register/?done={complaint.pk}")
    ]
    assert ALREADY in web.get(second["Location"]).content.decode()


def test_a_replayed_registration_a_day_later_still_creates_nothing(web, people, org, time_machine):
    web.force_login(people["agent"])
    token = token_on(web, "/register/")
    web.post("/register/", {**register_form(org), FIELD: token})
    time_machine.move_to(timezone.now() + timedelta(hours=23))
    replay = web.post("/register/", {**register_form(org, description="另一段文字"), FIELD: token})
    assert replay.status_code == 302
    assert Complaint.objects.count() == 1


def test_a_refused_registration_releases_its_token_for_the_corrected_form(web, people, org):
    web.force_login(people["agent"])
    token = token_on(web, "/register/")
    refused = web.post("/register/", {**register_form(org, description=""), FIELD: token})
    assert refused.status_code == 400
    assert (Complaint.objects.count(), UsedFormToken.objects.count()) == (0, 0)
    assert TOKEN.findall(refused.content.decode()) != [token]  # the form comes back with a new one
    corrected = web.post("/register/", {**register_form(org), FIELD: token})
    assert corrected.status_code == 302
    assert Complaint.objects.count() == 1


# --- a case action ----------------------------------------------------------------------------------


def test_a_double_submitted_note_is_written_once(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    html = web.get(f"/cases/{c.pk}/?do=note").content.decode()
    token = TOKEN.findall(re.search(r'<form [^>]*id="form-note".*?</form>', html, re.S).group(0))[0]
    answers = [
        web.post(f"/cases/{c.pk}/do/note/", {"note-text": "已联系用户", FIELD: token}) for _ in range(3)
    ]
    assert [(a.status_code, a["Location"]) for a in answers] == [(302, f"/cases/{c.pk}/")] * 3
    assert notes(c) == ["已联系用户"]


def test_without_a_token_each_submit_is_its_own(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    for _ in range(2):
        web.post(f"/cases/{c.pk}/do/note/", {"note-text": "已联系用户"})
    assert notes(c) == ["已联系用户", "已联系用户"]
    assert UsedFormToken.objects.count() == 0


def test_a_replayed_transition_answers_with_the_first_result_not_a_conflict(web, cases, people):
    c = cases.make(Status.DISPATCHED)
    web.force_login(people["handler"])
    data = {"investigate-version": c.version, "investigate-note": "", FIELD: "t" * 32}
    first = web.post(f"/cases/{c.pk}/do/investigate/", data)
    version = Complaint.objects.get(pk=c.pk).version
    replay = web.post(f"/cases/{c.pk}/do/investigate/", data)
    assert (first.status_code, replay.status_code, replay["Location"]) == (302, 302, f"/cases/{c.pk}/")
    assert Complaint.objects.get(pk=c.pk).version == version
    assert ComplaintEvent.objects.filter(complaint_id=c.pk, to_status="investigating").count() == 1


def test_every_state_changing_form_of_the_case_page_carries_a_token(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    html = web.get(f"/cases/{c.pk}/").content.decode()
    forms = re.findall(r'<form [^>]*method="post".*?</form>', html, re.S)
    posts = [f for f in forms if "/reveal/" not in f and "/i18n/" not in f and "logout" not in f]
    assert posts
    assert [f for f in posts if not TOKEN.search(f)] == []


# --- the portal -------------------------------------------------------------------------------------


def test_a_double_submitted_portal_filing_creates_one_case(web, org):
    token = token_on(web, FILE)
    answers = [web.post(FILE, {**filing(org), FIELD: token}, REMOTE_ADDR="203.0.113.7") for _ in range(2)]
    assert [(a.status_code, a["Location"]) for a in answers] == [(302, FILED), (302, FILED)]
    complaint = Complaint.objects.get()
    assert complaint.ticket_no in web.get(FILED).content.decode()


# --- housekeeping -----------------------------------------------------------------------------------


def test_the_worker_forgets_tokens_after_a_day(time_machine):
    now = timezone.now()
    UsedFormToken.objects.create(token="a" * 32, result_url="/x/", used_at=now - timedelta(hours=25))
    UsedFormToken.objects.create(token="b" * 32, result_url="/y/", used_at=now - timedelta(hours=23))
    assert form_tokens_purge() == 1
    assert list(UsedFormToken.objects.values_list("token", flat=True)) == ["b" * 32]


def test_a_malformed_token_is_ignored_not_stored(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    response = web.post(f"/cases/{c.pk}/do/note/", {"note-text": "x", FIELD: "<script>"})
    assert response.status_code == 302
    assert UsedFormToken.objects.count() == 0
