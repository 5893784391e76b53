"""The portal's case page: the question we asked shown above the answer box, the date we promised
to reply by, and evidence the customer adds after filing (their own open case only, through the
attachment service and its limits)."""

from __future__ import annotations

from datetime import datetime
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from tests.test_portal import PNG, text, verify
from tousu.common.origin import Origin
from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints import services as svc
from tousu.complaints.models import Attachment
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import ClockKind, SlaClock

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _keep_active_language():
    with translation.override(translation.get_language()):
        yield


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    ratelimit_reset()
    yield
    ratelimit_reset()


@pytest.fixture
def web(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def clocked(org, time_machine):
    sla_bootstrap()
    time_machine.move_to(datetime(2026, 11, 23, 10, 0, tzinfo=SH), tick=False)


def _upload(web: Any, ticket_no: str, *files: SimpleUploadedFile) -> Any:
    return web.post(f"/portal/case/{ticket_no}/evidence/", {"attachments": list(files)})


def test_the_question_is_shown_above_the_answer_box(web, cases, clocked):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    verify(web, complaint)
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    answer = page.split('id="answer"', 1)[1]
    assert answer.index(
        '<p class="question text" id="question"><strong>Our question:</strong> 请提供账单截图</p>'
    ) < (answer.index('id="answer-form"'))


def test_the_latest_question_is_the_one_shown(web, cases, clocked, people):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    svc.complaint_customer_answer(
        actor=None, complaint_id=complaint.pk, text="已发", origin=Origin(via="portal")
    )
    svc.complaint_request_info(actor=people["handler"], complaint_id=complaint.pk, question="请提供光猫照片")
    verify(web, complaint)
    answer = text(web.get(f"/portal/case/{complaint.ticket_no}/")).split('id="answer"', 1)[1]
    assert "请提供光猫照片" in answer.split('id="answer-form"', 1)[0]
    assert "请提供账单截图" not in answer.split('id="answer-form"', 1)[0]


def test_no_question_box_when_nothing_is_asked(web, cases, clocked):
    complaint = cases.make(Status.INVESTIGATING)
    verify(web, complaint)
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    assert 'id="question"' not in page
    assert 'id="answer-form"' not in page


def test_the_expected_reply_date_is_the_reply_clocks_due_time(web, cases, clocked):
    complaint = cases.make(Status.INVESTIGATING)
    clock = SlaClock.objects.get(complaint=complaint, kind=ClockKind.REPLY)
    verify(web, complaint)
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    local = clock.due_at.astimezone(SH)
    assert (
        f'<dt>Expected reply by</dt><dd id="expected-reply"><time datetime="{local.isoformat()}">'
        f"{local:%Y-%m-%d %H:%M}</time></dd>"
    ) in page


def test_no_expected_reply_date_once_replied(web, cases, clocked):
    complaint = cases.make(Status.REPLIED)
    verify(web, complaint)
    assert 'id="expected-reply"' not in text(web.get(f"/portal/case/{complaint.ticket_no}/"))


def test_the_customer_adds_evidence_after_filing(web, cases, clocked):
    complaint = cases.make(Status.INVESTIGATING)
    verify(web, complaint)
    url = f"/portal/case/{complaint.ticket_no}/"
    assert 'id="evidence-form"' in text(web.get(url))
    response = _upload(
        web,
        complaint.ticket_no,
        SimpleUploadedFile("bill.png", PNG),
        SimpleUploadedFile("note.txt", "扣费30元".encode()),
    )
    assert (response.status_code, response["Location"]) == (302, url)
    rows = list(
        Attachment.objects.filter(complaint=complaint)
        .order_by("id")
        .values_list("original_name", "size", "uploaded_by")
    )
    assert rows == [("bill.png", len(PNG), None), ("note.txt", len("扣费30元".encode()), None)]
    events = list(
        complaint.events.filter(kind="attachment_added")
        .order_by("id")
        .values_list("actor_id", "via", "payload")
    )
    assert [(a, v, p["name"]) for a, v, p in events] == [
        (None, "portal", "bill.png"),
        (None, "portal", "note.txt"),
    ]
    page = text(web.get(url))
    assert "Thank you: 2 files were added to your complaint." in page
    assert "2 files are attached to your complaint." in page


def test_a_bad_file_is_refused_and_nothing_is_written(web, cases, clocked, unchanged):
    complaint = cases.make(Status.INVESTIGATING)
    verify(web, complaint)
    with unchanged():
        response = _upload(web, complaint.ticket_no, SimpleUploadedFile("virus.exe", b"MZ\x90\x00"))
    assert response.status_code == 400
    assert "'virus.exe' is not accepted" in text(response)
    with unchanged():
        response = _upload(web, complaint.ticket_no)
    assert response.status_code == 400
    assert "This field is required." in text(response)


def test_the_per_case_limit_of_the_attachment_service_holds(web, cases, clocked, settings):
    settings.TOUSU_ATTACHMENTS_PER_CASE = 1
    complaint = cases.make(Status.INVESTIGATING)
    verify(web, complaint)
    _upload(web, complaint.ticket_no, SimpleUploadedFile("one.png", PNG))
    response = _upload(web, complaint.ticket_no, SimpleUploadedFile("two.png", PNG))
    assert response.status_code == 302
    assert list(Attachment.objects.filter(complaint=complaint).values_list("original_name", flat=True)) == [
        "one.png"
    ]
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    assert "“two.png” was not added: This case has as many attachments as allowed." in page


def test_a_finished_case_takes_no_evidence(web, cases, clocked, unchanged):
    complaint = cases.make(Status.CLOSED)
    verify(web, complaint)
    assert 'id="evidence-form"' not in text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    with unchanged():
        response = _upload(web, complaint.ticket_no, SimpleUploadedFile("late.png", PNG))
    assert response.status_code == 302
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    assert "Your complaint is finished: evidence can no longer be added." in page


def test_evidence_needs_the_code_for_that_case(web, cases, clocked, unchanged):
    mine = cases.make(Status.INVESTIGATING)
    other = cases.make(Status.INVESTIGATING)
    verify(web, mine)  # this browser proved it may follow 'mine' only
    with unchanged():
        response = _upload(web, other.ticket_no, SimpleUploadedFile("x.png", PNG))
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/track/")
    stranger = Client()
    with unchanged():
        response = _upload(stranger, mine.ticket_no, SimpleUploadedFile("x.png", PNG))
    assert response["Location"].startswith("/portal/track/")


def test_a_get_of_the_evidence_address_goes_back_to_the_case(web, cases, clocked):
    complaint = cases.make(Status.INVESTIGATING)
    verify(web, complaint)
    response = web.get(f"/portal/case/{complaint.ticket_no}/evidence/")
    assert (response.status_code, response["Location"]) == (302, f"/portal/case/{complaint.ticket_no}/")


def test_the_page_in_chinese_uses_full_width_colons(client, cases, clocked):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    verify(client, complaint)
    page = unescape(client.get(f"/portal/case/{complaint.ticket_no}/").content.decode())
    assert "<strong>我们的问题：</strong> 请提供账单截图" in page
