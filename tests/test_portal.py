"""The customer portal: filing, following a case with a one-time code, answering, withdrawing,
the return-visit survey, rate limits and the refusals."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.utils import timezone, translation

from tests.conftest import PHONE, PHONE_E164
from tousu.common.links import survey_token
from tousu.common.origin import Origin, client_address
from tousu.common.phone import normalize_phone
from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints import services as svc
from tousu.complaints.models import Attachment, Complaint, ReturnVisit
from tousu.complaints.states import Status
from tousu.notifications.models import CustomerLanguage, Notification, Transport
from tousu.notifications.services import customer_language, notifications_deliver, outbox_dispatch
from tousu.portal.models import TrackingCode
from tousu.portal.services import tracking_code_request, tracking_code_verify

pytestmark = pytest.mark.django_db

FILE = "/portal/file/"
FILED = "/portal/file/done/"
TRACK = "/portal/track/"
CODE = "/portal/track/code/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
OTHER_PHONE = "13912345678"


@pytest.fixture(autouse=True)
def _keep_active_language():
    """Requests through LocaleMiddleware activate a language for the thread; put the old one back."""
    with translation.override(translation.get_language()):
        yield


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    ratelimit_reset()
    yield
    ratelimit_reset()


@pytest.fixture
def web(client):
    """A visitor's browser that asked for English."""
    client.cookies["django_language"] = "en"
    return client


def text(response: Any) -> str:
    return unescape(response.content.decode())


def filing(org: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer_name": "王五",
        "phone": "139 1234 5678",
        "service_number": "13912345678",
        "business_type": "broadband",
        "category": org["outage"].pk,
        "description": "家里宽带从昨晚起断网，重启光猫无效。",
        "demand": "尽快修复并减免断网期间费用",
        "preferred_reply_channel": "sms",
        "email": "",
        "website": "",
    }
    data.update(changes)
    return data


def code_sent_to(phone_e164: str) -> str:
    """The code as the SMS gateway receives it (the stored body has it masked)."""
    body = Notification.objects.filter(template="otp", address=phone_e164).latest("id").clear_body()
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def verify(web: Any, complaint: Complaint, phone: str = PHONE) -> Any:
    """Ask for a code and type it: the browser may then follow the case."""
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": phone})
    return web.post(CODE, {"code": code_sent_to(PHONE_E164)})


# --- filing ------------------------------------------------------------------------------------


def test_the_portal_speaks_chinese_by_default_and_english_on_request(client, org):
    chinese = text(client.get(FILE))
    assert '<html lang="zh-hans">' in chinese
    assert "提交投诉" in chinese
    client.cookies["django_language"] = "en"
    english = text(client.get(FILE))
    assert '<html lang="en">' in english
    assert "Send my complaint" in english


def test_the_form_offers_leaf_categories_grouped_by_parent(web, org):
    page = text(web.get(FILE))
    assert '<optgroup label="资费类">' in page
    assert f'<option value="{org["wrong_charge"].pk}">错收</option>' in page
    assert f'<option value="{org["outage"].pk}">网络中断</option>' in page
    assert f'<option value="{org["billing"].pk}"' not in page  # a parent is no choice


def test_filing_registers_and_accepts_on_the_web_channel_and_shows_the_ticket_number(web, org):
    response = web.post(FILE, filing(org), REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302
    assert response["Location"] == FILED

    complaint = Complaint.objects.get()
    assert complaint.status == Status.ACCEPTED
    assert complaint.channel == "web"
    assert re.fullmatch(r"TS\d{8}000001", complaint.ticket_no or "")
    assert complaint.registered_by is None
    assert complaint.customer.phone == "+8613912345678"
    assert complaint.customer.name == "王五"
    assert complaint.business_type == "broadband"
    assert complaint.category == org["outage"]
    assert complaint.level == "dissatisfied"
    assert complaint.preferred_reply_channel == "sms"
    assert complaint.description == "家里宽带从昨晚起断网，重启光猫无效。"
    events = list(complaint.events.values_list("kind", "actor_id"))
    assert events == [("registered", None), ("accepted", None)]
    assert complaint.events.get(kind="registered").payload["via"] == "portal"

    page = text(web.get(FILED))
    assert f'<strong id="ticket-no">{complaint.ticket_no}</strong>' in page
    assert "We also send it to 139****5678" in page

    outbox_dispatch()
    ack = Notification.objects.get(template="ack")
    assert (ack.transport, ack.address) == (Transport.SMS, "+8613912345678")
    assert complaint.ticket_no in ack.body


def test_the_filing_browser_may_follow_its_case_at_once(web, org):
    web.post(FILE, filing(org))
    complaint = Complaint.objects.get()
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    assert '<p class="status status-received" id="case-status">Accepted</p>' in page


def test_an_email_answer_needs_an_address_and_then_the_acknowledgement_goes_by_email(web, org, unchanged):
    with unchanged():
        response = web.post(FILE, filing(org, preferred_reply_channel="email"))
    assert response.status_code == 400
    assert "Give your e-mail address to get our answer by e-mail." in text(response)

    web.post(FILE, filing(org, preferred_reply_channel="email", email="wangwu@example.com"))
    complaint = Complaint.objects.get()
    assert complaint.preferred_reply_channel == "email"
    # Nobody proved the address is theirs: it stays on the case, not on the customer's record.
    assert (complaint.contact_email, complaint.customer.email) == ("wangwu@example.com", "")
    assert "We also send it to w***@example.com" in text(web.get(FILED))
    outbox_dispatch()
    ack = Notification.objects.get(template="ack")
    assert (ack.transport, ack.address) == (Transport.EMAIL, "wangwu@example.com")


def test_the_confirmation_names_the_address_the_acknowledgement_goes_to(web, org, cases):
    """A customer known with an e-mail address keeps it: the acknowledgement goes there, and the
    page says so rather than naming the address just typed."""
    cases.register(phone="139 1234 5678", email="old@example.com")  # known at the hotline
    web.post(FILE, filing(org, preferred_reply_channel="email", email="new@example.com"))
    assert "We also send it to o***@example.com" in text(web.get(FILED))
    outbox_dispatch()
    assert set(Notification.objects.filter(template="ack").values_list("address", flat=True)) == {
        "old@example.com"
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phone": "12345"}, "phone", "'12345' is not a valid phone number."),
        ({"phone": ""}, "phone", "This field is required."),
        ({"description": "   "}, "description", "This field is required."),
        ({"customer_name": ""}, "customer_name", "This field is required."),
        (
            {"category": "999999"},
            "category",
            "Select a valid choice. 999999 is not one of the available choices.",
        ),
    ],
)
def test_bad_input_is_shown_on_the_form_and_writes_nothing(web, org, unchanged, changes, field, message):
    with unchanged():
        response = web.post(FILE, filing(org, **changes))
    assert response.status_code == 400
    page = text(response)
    block = page.split(f'id="field-{field}"', 1)[1].split("</div>", 3)
    assert message in "".join(block)
    assert "Please correct what is marked below." in page


def test_a_parent_category_is_refused(web, org, unchanged):
    with unchanged():
        response = web.post(FILE, filing(org, category=org["network"].pk))
    assert response.status_code == 400


def test_the_honeypot_turns_bots_away(web, org, unchanged):
    with unchanged():
        response = web.post(FILE, filing(org, website="http://spam.example"))
    assert response.status_code == 400
    assert "Your complaint could not be sent. Please try again." in text(response)


def test_evidence_is_attached_and_a_bad_file_is_refused_before_anything_is_written(web, org, unchanged):
    with unchanged():
        response = web.post(
            FILE,
            {**filing(org), "attachments": [SimpleUploadedFile("virus.exe", b"MZ\x90\x00")]},
        )
    assert response.status_code == 400
    assert "'virus.exe' is not accepted" in text(response)

    response = web.post(
        FILE,
        {
            **filing(org),
            "attachments": [
                SimpleUploadedFile("modem.png", PNG),
                SimpleUploadedFile("note.txt", "断网时间：21:00".encode()),
            ],
        },
    )
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert sorted(Attachment.objects.filter(complaint=complaint).values_list("original_name", "size")) == [
        ("modem.png", len(PNG)),
        ("note.txt", len("断网时间：21:00".encode())),
    ]
    assert set(Attachment.objects.values_list("uploaded_by", flat=True)) == {None}
    assert "2 files were attached." in text(web.get(FILED))


def test_too_many_files_are_refused(web, org, settings, unchanged):
    settings.TOUSU_PORTAL_MAX_FILES = 1
    files = [SimpleUploadedFile("a.png", PNG), SimpleUploadedFile("b.png", PNG)]
    with unchanged():
        response = web.post(FILE, {**filing(org), "attachments": files})
    assert response.status_code == 400
    assert "Attach at most 1 files." in text(response)


def test_filings_are_limited_per_phone_number(web, org, settings, unchanged):
    settings.TOUSU_PORTAL_FILINGS_PER_PHONE = 2
    for _ in range(2):
        assert web.post(FILE, filing(org)).status_code == 302
    with unchanged():
        response = web.post(FILE, filing(org))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "We received many requests from you or for this phone number." in text(response)
    # Another number from the same address is still welcome.
    assert web.post(FILE, filing(org, phone=PHONE)).status_code == 302
    assert Complaint.objects.count() == 3


def test_filings_are_limited_per_client_address(web, org, settings, unchanged):
    settings.TOUSU_PORTAL_FILINGS_PER_ADDRESS = 1
    assert web.post(FILE, filing(org), REMOTE_ADDR="198.51.100.1").status_code == 302
    with unchanged():
        response = web.post(FILE, filing(org, phone=PHONE), REMOTE_ADDR="198.51.100.1")
    assert response.status_code == 429
    # A client cannot dodge the limit with a header of its own.
    with unchanged():
        response = web.post(
            FILE, filing(org, phone=PHONE), REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="10.9.9.9"
        )
    assert response.status_code == 429
    assert web.post(FILE, filing(org, phone=PHONE), REMOTE_ADDR="198.51.100.2").status_code == 302


def test_the_client_address_believes_only_the_configured_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_address(request) == "10.0.0.5"
    settings.TOUSU_PROXY_HOPS = 1
    assert client_address(request) == "203.0.113.9"
    settings.TOUSU_PROXY_HOPS = 2
    assert client_address(request) == "6.6.6.6"
    settings.TOUSU_PROXY_HOPS = 3
    assert client_address(request) == "10.0.0.5"


def test_audit_origins_take_the_same_address(settings):
    """Staff pages record the same address in their audit rows: a client cannot write its own."""
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6", HTTP_USER_AGENT="UA"
    )
    assert Origin.from_request(request) == Origin(via="web", ip="10.0.0.5", user_agent="UA")
    settings.TOUSU_PROXY_HOPS = 1
    assert Origin.from_request(request, via="portal") == Origin(via="portal", ip="6.6.6.6", user_agent="UA")


def test_the_confirmation_needs_a_filing_first(web, org):
    response = web.get(FILED)
    assert (response.status_code, response["Location"]) == (302, FILE)


# --- one-time codes ------------------------------------------------------------------------------


def test_a_code_goes_to_the_phone_on_record_and_is_stored_hashed(cases):
    complaint = cases.make(Status.ACCEPTED)
    assert (
        tracking_code_request(ticket_no=complaint.ticket_no.lower(), phone=PHONE, binding="S", language="en")
        is True
    )
    note = Notification.objects.get(template="otp")
    code = code_sent_to(PHONE_E164)
    assert (note.transport, note.address, note.complaint_id, note.status) == (
        "sms",
        PHONE_E164,
        complaint.pk,
        "pending",
    )
    assert note.body == (
        f"[Tousu customer service] Your code to follow complaint {complaint.ticket_no} is ******. "
        "It is valid for 10 minutes. Do not give it to anyone."
    )
    assert note.clear_body() == note.body.replace("******", code)
    row = TrackingCode.objects.get()
    assert code not in row.code_hash
    assert len(row.code_hash) == 64
    assert row.expires_at - row.created_at == timedelta(minutes=10)
    mine = {"phone": PHONE, "binding": "S"}
    assert tracking_code_verify(ticket_no=complaint.ticket_no, code=code, **mine).complaint_id == complaint.pk
    # Used once, then dead.
    again = tracking_code_verify(ticket_no=complaint.ticket_no, code=code, **mine)
    assert again.complaint_id is None


def test_no_code_for_a_wrong_phone_or_an_unknown_ticket(cases):
    complaint = cases.make(Status.ACCEPTED)
    assert tracking_code_request(ticket_no=complaint.ticket_no, phone=OTHER_PHONE, binding="S") is False
    assert tracking_code_request(ticket_no="TS20990101000001", phone=PHONE, binding="S") is False
    assert Notification.objects.filter(template="otp").count() == 0
    assert TrackingCode.objects.count() == 0


def test_the_page_answers_the_same_whether_or_not_ticket_and_phone_match(web, cases):
    complaint = cases.make(Status.ACCEPTED)
    pages = []
    for ticket, phone in [
        (complaint.ticket_no, PHONE),
        (complaint.ticket_no, OTHER_PHONE),
        ("TS20990101000001", PHONE),
    ]:
        web.cookies.pop("sessionid", None)
        response = web.post(TRACK, {"ticket_no": ticket, "phone": phone})
        assert (response.status_code, response["Location"]) == (302, CODE)
        page = text(web.get(CODE))
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
        page = re.sub(r'name="form_token" value="[^"]+"', "", page)  # one-time, different on every form
        pages.append(
            page.replace(ticket, "<ticket>")
            .replace("138****8000", "<phone>")
            .replace("139****5678", "<phone>")
        )
    assert pages[0] == pages[1] == pages[2]
    assert Notification.objects.filter(template="otp").count() == 1


def test_a_wrong_code_counts_and_too_many_kill_the_code(web, cases, settings):
    settings.TOUSU_PORTAL_CODE_ATTEMPTS = 3
    complaint = cases.make(Status.ACCEPTED)
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE})
    code = code_sent_to(PHONE_E164)
    wrong = "000000" if code != "000000" else "111111"
    for attempt in (1, 2):
        response = web.post(CODE, {"code": wrong})
        assert response.status_code == 400
        assert "The code is not correct. Check the SMS and try again." in text(response)
        assert TrackingCode.objects.get().attempts == attempt
    response = web.post(CODE, {"code": wrong})
    assert "This code has expired or was tried too often. Ask for a new code." in text(response)
    response = web.post(CODE, {"code": code})  # even the right one, now
    assert response.status_code == 400
    assert "This code has expired or was tried too often. Ask for a new code." in text(response)
    assert web.get(f"/portal/case/{complaint.ticket_no}/").status_code == 302


def test_a_code_expires(web, cases, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    complaint = cases.make(Status.ACCEPTED)
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE})
    code = code_sent_to(PHONE_E164)
    time_machine.shift(timedelta(minutes=10, seconds=1))
    response = web.post(CODE, {"code": code})
    assert response.status_code == 400
    assert "This code has expired or was tried too often. Ask for a new code." in text(response)


def test_a_new_code_replaces_the_old_one(cases):
    complaint = cases.make(Status.ACCEPTED)
    mine = {"phone": PHONE, "binding": "S"}
    tracking_code_request(ticket_no=complaint.ticket_no, **mine)
    first = code_sent_to(PHONE_E164)
    tracking_code_request(ticket_no=complaint.ticket_no, **mine)
    second = code_sent_to(PHONE_E164)
    if first != second:
        assert tracking_code_verify(ticket_no=complaint.ticket_no, code=first, **mine).complaint_id is None
    assert (
        tracking_code_verify(ticket_no=complaint.ticket_no, code=second, **mine).complaint_id == complaint.pk
    )


def test_code_requests_are_limited_per_phone_number_and_per_address(web, cases, settings):
    complaint = cases.make(Status.ACCEPTED)
    for _ in range(3):
        assert web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE}).status_code == 302
    response = web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    assert Notification.objects.filter(template="otp").count() == 3

    settings.TOUSU_PORTAL_CODES_PER_ADDRESS = 5  # four requests above, from the same address
    assert web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": OTHER_PHONE}).status_code == 302
    assert web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": OTHER_PHONE}).status_code == 429


def test_code_checks_are_limited_per_address(web, cases, settings):
    settings.TOUSU_PORTAL_CHECKS_PER_ADDRESS = 2
    complaint = cases.make(Status.ACCEPTED)
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE})
    code = code_sent_to(PHONE_E164)
    assert web.post(CODE, {"code": "x"}).status_code == 400
    assert web.post(CODE, {"code": "y"}).status_code == 400
    response = web.post(CODE, {"code": code})
    assert response.status_code == 429
    assert TrackingCode.objects.get().used_at is None


def test_code_checks_are_limited_per_phone_number(web, cases, settings):
    settings.TOUSU_PORTAL_CHECKS_PER_PHONE = 2
    complaint = cases.make(Status.ACCEPTED)
    for address in ("198.51.100.1", "198.51.100.2"):
        web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE}, REMOTE_ADDR=address)
        assert web.post(CODE, {"code": "x"}, REMOTE_ADDR=address).status_code == 400
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE}, REMOTE_ADDR="198.51.100.3")
    response = web.post(CODE, {"code": code_sent_to(PHONE_E164)}, REMOTE_ADDR="198.51.100.3")
    assert response.status_code == 429
    assert TrackingCode.objects.filter(used_at__isnull=True).get().attempts == 0


def test_the_clear_code_is_never_stored_or_written_to_the_outbox_log(web, cases, settings):
    complaint = cases.make(Status.ACCEPTED)
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE})
    code = code_sent_to(PHONE_E164)
    note = Notification.objects.get(template="otp")
    assert "******" in note.body
    assert code not in note.body
    assert code not in note.secret_seed
    assert notifications_deliver() == 1  # the file transport (development) logs the message
    log = settings.TOUSU_NOTIFY_FILE.read_text(encoding="utf-8")
    assert "is ******. It is valid" in log
    assert code not in log.replace(complaint.ticket_no, "")
    assert Notification.objects.get(pk=note.pk).status == "sent"
    session = web.session
    assert code not in str(dict(session.items()))
    assert web.post(CODE, {"code": code}).status_code == 302  # and yet it works


def test_a_code_works_only_in_the_session_that_asked_for_it(web, cases):
    complaint = cases.make(Status.ACCEPTED)
    client = Client()
    client.cookies["django_language"] = "en"
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE})
    code = code_sent_to(PHONE_E164)
    # Another browser session, with the same ticket and phone: its own request would replace the
    # code, so it only sets up its pending state with a number not on record (no SMS).
    assert client.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": OTHER_PHONE}).status_code == 302
    pending = client.session["portal_pending"]
    session = client.session
    session["portal_pending"] = {**pending, "phone": normalize_phone(PHONE)}  # even with the phone
    session.save()
    response = client.post(CODE, {"code": code})
    assert response.status_code == 400
    assert "The code is not correct. Check the SMS and try again." in text(response)
    assert client.get(f"/portal/case/{complaint.ticket_no}/").status_code == 302
    assert TrackingCode.objects.get().attempts == 0  # the owner's tries are not used up
    assert TrackingCode.objects.get().used_at is None
    # The session that asked still can.
    assert web.post(CODE, {"code": code}).status_code == 302
    assert web.get(f"/portal/case/{complaint.ticket_no}/").status_code == 200


def test_a_code_works_only_for_the_phone_it_was_sent_to(web, cases):
    complaint = cases.make(Status.ACCEPTED)
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": PHONE})
    code = code_sent_to(PHONE_E164)
    # The same session then asks for another number (not on record: no new code is sent).
    web.post(TRACK, {"ticket_no": complaint.ticket_no, "phone": OTHER_PHONE})
    assert Notification.objects.filter(template="otp").count() == 1
    response = web.post(CODE, {"code": code})
    assert response.status_code == 400
    assert web.get(f"/portal/case/{complaint.ticket_no}/").status_code == 302
    assert TrackingCode.objects.get().used_at is None


def test_the_code_page_needs_a_request_first(web, db):
    response = web.get(CODE)
    assert (response.status_code, response["Location"]) == (302, TRACK)


# --- the case page -------------------------------------------------------------------------------


def test_a_case_needs_its_code_and_one_code_opens_one_case(web, cases):
    first = cases.make(Status.ACCEPTED)
    second = cases.make(Status.ACCEPTED, description="另一个投诉")
    url = f"/portal/case/{first.ticket_no}/"
    response = web.get(url)
    assert (response.status_code, response["Location"]) == (302, f"{TRACK}?ticket={first.ticket_no}")

    web.post(TRACK, {"ticket_no": first.ticket_no, "phone": PHONE})
    before = web.cookies["sessionid"].value
    response = web.post(CODE, {"code": code_sent_to(PHONE_E164)})
    assert (response.status_code, response["Location"]) == (302, url)
    assert web.cookies["sessionid"].value != before  # a new session key once proven
    assert web.get(url).status_code == 200
    assert web.get(f"/portal/case/{second.ticket_no}/").status_code == 302


def test_the_customer_sees_status_reply_and_public_events_only(web, cases, people):
    complaint = cases.make(Status.REPLIED)
    svc.complaint_note(actor=people["handler"], complaint_id=complaint.pk, text="内部备注：客户曾多次投诉")
    verify(web, complaint)
    response = web.get(f"/portal/case/{complaint.ticket_no}/")
    assert "no-store" in response["Cache-Control"]  # personal data: never kept by a shared cache
    page = text(response)
    assert '<p class="status status-answered" id="case-status">Answered</p>' in page
    assert "经核查已退还30元。" in page
    titles = re.findall(r"<strong>([^<]+)</strong>", page.split('id="timeline"', 1)[1])
    assert titles == [
        "We received your complaint",
        f"Accepted under ticket number {complaint.ticket_no}",
        "Passed to the department responsible",
        "We replied",
    ]
    for secret in ("内部备注", "计费结算部", "handler", "agent", "退还错收的30元彩铃费并取消业务"):
        assert secret not in page
    assert "138****8000" in page
    assert PHONE not in page


def test_the_customer_answers_a_request_for_information(web, cases):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    verify(web, complaint)
    url = f"/portal/case/{complaint.ticket_no}/"
    page = text(web.get(url))
    assert '<p class="status status-needs_you" id="case-status">Waiting for information from you</p>' in page
    assert "请提供账单截图" in page
    response = web.post(f"{url}answer/", {"answer": "截图已发到邮箱 a@example.com"})
    assert (response.status_code, response["Location"]) == (302, url)
    complaint.refresh_from_db()
    assert complaint.status == Status.INVESTIGATING
    event = complaint.events.latest("id")
    assert (event.kind, event.actor_id, event.actor_label, event.via, event.payload) == (
        "info_received",
        None,
        "customer",
        "portal",
        {"message": "截图已发到邮箱 a@example.com", "from": "customer"},
    )
    page = text(web.get(url))
    assert "Thank you: your answer was sent to the people handling your complaint." in page
    assert 'id="answer-form"' not in page


def test_an_empty_answer_is_refused(web, cases, unchanged):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    verify(web, complaint)
    with unchanged():
        response = web.post(f"/portal/case/{complaint.ticket_no}/answer/", {"answer": " "})
    assert response.status_code == 400
    assert "This field is required." in text(response)


def test_the_customer_withdraws_after_confirming(web, cases):
    complaint = cases.make(Status.INVESTIGATING)
    verify(web, complaint)
    url = f"/portal/case/{complaint.ticket_no}/withdraw/"
    page = text(web.get(url))
    assert "Yes, withdraw it" in page
    complaint.refresh_from_db()
    assert complaint.status == Status.INVESTIGATING  # showing the question changes nothing

    response = web.post(url, {"reason": ""})
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Status.WITHDRAWN
    event = complaint.events.latest("id")
    assert (event.kind, event.actor_id, event.payload) == (
        "withdrawn",
        None,
        {"reason": "由客户在网站撤销。", "via": "portal"},
    )
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    assert "Your complaint has been withdrawn." in page
    assert '<p class="status status-withdrawn" id="case-status">Withdrawn</p>' in page
    assert "withdraw-link" not in page


def test_a_finished_complaint_cannot_be_withdrawn(web, cases, unchanged):
    complaint = cases.make(Status.CLOSED)
    verify(web, complaint)
    with unchanged():
        response = web.post(f"/portal/case/{complaint.ticket_no}/withdraw/", {"reason": "不要了"})
    assert response.status_code == 302
    page = text(web.get(f"/portal/case/{complaint.ticket_no}/"))
    assert "This complaint is finished and can no longer be withdrawn." in page


def test_withdrawing_needs_the_code(web, cases, unchanged):
    complaint = cases.make(Status.INVESTIGATING)
    with unchanged():
        response = web.post(f"/portal/case/{complaint.ticket_no}/withdraw/", {"reason": "不要了"})
    assert response.status_code == 302
    assert response["Location"].startswith(TRACK)


# --- the survey ----------------------------------------------------------------------------------


def survey_url(complaint: Complaint) -> str:
    return f"/portal/survey/{survey_token(complaint.pk)}/"


def test_the_survey_shows_the_case_and_a_satisfied_answer_records_the_return_visit(web, cases):
    complaint = cases.make(Status.REPLIED)
    page = text(web.get(survey_url(complaint)))
    assert f'<dd id="survey-ticket">{complaint.ticket_no}</dd>' in page
    assert "用户反映3月账单被收取30元彩铃费用，从未订购。" in page
    assert "经核查已退还30元。" in page

    response = web.post(survey_url(complaint), {"resolved": "yes", "satisfaction": "5", "comment": "很好"})
    assert response.status_code == 200
    assert "We are glad your problem is resolved." in text(response)
    complaint.refresh_from_db()
    assert complaint.status == Status.RETURN_VISIT
    visit = ReturnVisit.objects.get()
    assert (visit.reached, visit.resolved, visit.satisfaction, visit.comment, visit.visited_by) == (
        True,
        True,
        5,
        "很好",
        None,
    )


def test_a_dissatisfied_answer_reopens_and_escalates(web, cases):
    complaint = cases.make(Status.REPLIED)
    response = web.post(survey_url(complaint), {"resolved": "no", "satisfaction": "2", "comment": "还在扣费"})
    assert response.status_code == 200
    assert f"Your complaint {complaint.ticket_no} has been reopened" in text(response)
    complaint.refresh_from_db()
    assert (complaint.status, complaint.escalation_level, complaint.reopen_count) == (Status.REOPENED, 1, 1)
    kinds = list(complaint.events.filter(id__gt=0).values_list("kind", flat=True))[-3:]
    assert kinds == ["return_visit", "reopened", "escalated"]


def test_a_second_answer_is_refused_politely(web, cases, unchanged):
    complaint = cases.make(Status.REPLIED)
    web.post(survey_url(complaint), {"resolved": "yes", "satisfaction": "4"})
    page = text(web.get(survey_url(complaint)))
    assert "Thank you, we already have your answer" in page
    with unchanged():
        response = web.post(survey_url(complaint), {"resolved": "no", "satisfaction": "1"})
    assert response.status_code == 409
    assert "Each survey takes one answer." in text(response)


def test_a_survey_for_a_case_not_waiting_for_feedback_is_closed(web, cases, unchanged):
    complaint = cases.make(Status.INVESTIGATING)
    assert "This survey is not open" in text(web.get(survey_url(complaint)))
    with unchanged():
        response = web.post(survey_url(complaint), {"resolved": "no", "satisfaction": "1"})
    assert response.status_code == 409


def test_a_forged_or_expired_link_gets_a_clear_page(web, cases, time_machine, unchanged):
    time_machine.move_to(timezone.now(), tick=False)
    complaint = cases.make(Status.REPLIED)
    token = survey_token(complaint.pk)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with unchanged():
        response = web.post(f"/portal/survey/{forged}/", {"resolved": "no", "satisfaction": "1"})
    assert response.status_code == 404
    assert "The survey link is damaged or has expired" in text(response)
    time_machine.shift(timedelta(days=30, seconds=1))
    with unchanged():
        response = web.post(f"/portal/survey/{token}/", {"resolved": "no", "satisfaction": "1"})
    assert response.status_code == 404


def test_an_incomplete_survey_is_shown_again(web, cases, unchanged):
    complaint = cases.make(Status.REPLIED)
    with unchanged():
        response = web.post(survey_url(complaint), {"resolved": "no", "satisfaction": "9"})
    assert response.status_code == 400
    assert "Select a valid choice. 9 is not one of the available choices." in text(response)


# --- the rest -------------------------------------------------------------------------------------


def test_unknown_portal_pages_are_404(web, db):
    response = web.get("/portal/nothing/here/")
    assert response.status_code == 404
    assert "There is nothing at this address." in text(response)


def test_the_start_page_links_both_ways_in(web, db):
    page = text(web.get("/portal/"))
    assert 'href="/portal/file/"' in page
    assert 'href="/portal/track/"' in page


def test_forms_need_the_csrf_token(org):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(FILE, filing(org))
    assert response.status_code == 403
    assert Complaint.objects.count() == 0


def test_a_customer_who_files_in_english_gets_english_messages(web, org, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    assert web.post(FILE, filing(org)).status_code == 302
    complaint = Complaint.objects.get()
    assert customer_language(complaint.customer_id) == "en"
    outbox_dispatch()
    ack = Notification.objects.get(template="ack")
    assert ack.language == "en"


def test_a_customer_who_files_in_chinese_keeps_the_default_language(client, org, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client.cookies["django_language"] = "zh-hans"
    assert client.post(FILE, filing(org)).status_code == 302
    complaint = Complaint.objects.get()
    assert not CustomerLanguage.objects.filter(customer_id=complaint.customer_id).exists()
    outbox_dispatch()
    assert Notification.objects.get(template="ack").language == "zh-hans"
