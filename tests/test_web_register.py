"""Hotline registration: the customer card, the category picker and the one-submit flow."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from tests.conftest import PHONE, PHONE_E164
from tousu.audit.models import AuditEvent, AuditKind
from tousu.complaints import services as svc
from tousu.complaints.models import Attachment, Category, CategorySynonym, Complaint, ComplaintEvent, Reply
from tousu.complaints.states import Status
from tousu.customers.models import Customer, CustomerIdentity
from tousu.customers.services import customer_blacklist

pytestmark = pytest.mark.django_db

REGISTER = "/register/"
LOOKUP = "/register/lookup/"
SEARCH = "/categories/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
CALLER = "139 1234 5678"
CALLER_E164 = "+8613912345678"


@pytest.fixture(autouse=True)
def _keep_active_language():
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def agent(client, people):
    client.force_login(people["agent"])
    return people["agent"]


def form(org: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "hotline",
        "phone": CALLER,
        "customer_name": "李四",
        "service_number": "13912345678",
        "category": org["wrong_charge"].pk,
        "level": "dissatisfied",
        "business_type": "mobile",
        "description": "本月账单多收了15元流量费。",
        "demand": "退还15元",
        "preferred_reply_channel": "sms",
        "fcr_reply": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def case_href(pk: int) -> str:
    try:
        return f'href="{reverse("case", args=[pk])}"'
    except NoReverseMatch:  # the case page is another area's; until it exists, no link
        return ""


def events(complaint: Complaint) -> list[str]:
    return list(complaint.events.order_by("created_at", "id").values_list("kind", flat=True))


def field_errors(html: str, field: str) -> list[str]:
    """The error messages Django rendered for ``field`` (its ``id_<field>_error`` list)."""
    marker = f'<ul class="errorlist" id="id_{field}_error">'
    if marker not in html:
        return []
    block = html[html.index(marker) + len(marker) :]
    block = block[: block.index("</ul>")]
    return [unescape(li.split(">", 1)[1].split("</li", 1)[0]) for li in block.split("<li")[1:]]


# --- the page and who may open it -----------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(REGISTER)
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/register/")


@pytest.mark.parametrize("persona", ["visitor", "inspector", "auditor", "admin"])
def test_roles_that_do_not_register_get_403_everywhere(client, people, org, persona, unchanged):
    client.force_login(people[persona])
    with unchanged():
        assert client.get(REGISTER, **EN).status_code == 403
        assert client.post(LOOKUP, {"phone": PHONE}, **EN).status_code == 403
        assert client.get(SEARCH, {"q": "错收"}, **EN).status_code == 403
        response = client.post(REGISTER, form(org), **EN)
    assert response.status_code == 403
    assert "Your role may not register complaints." in response.content.decode()
    assert Complaint.objects.count() == 0


@pytest.mark.parametrize("persona", ["agent", "handler", "supervisor", "manager"])
def test_registering_roles_open_the_page_with_the_defaults(client, people, org, persona):
    client.force_login(people[persona])
    response = client.get(REGISTER, **EN)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="hotline" selected>Hotline</option>' in html
    assert '<option value="dissatisfied" selected>Dissatisfied</option>' in html
    assert '<option value="phone" selected>Phone</option>' in html
    assert f'hx-post="{LOOKUP}"' in html
    assert '<a href="/register/">Register a complaint</a>' in html  # the navigation link


def test_the_no_script_fallback_lists_only_active_leaf_categories(client, agent, org):
    Category.objects.create(code="billing-old", name="旧分类", parent=org["billing"], is_active=False)
    html = client.get(REGISTER, **EN).content.decode()
    fallback = html[html.index("<noscript>") : html.index("</noscript>")]
    assert '<select name="category_choice"' in fallback
    options = [part.split('"', 1)[0] for part in fallback.split('<option value="')[2:]]
    assert options == [str(org["wrong_charge"].pk), str(org["outage"].pk)]
    assert '<optgroup label="资费类">' in fallback


def test_a_telephony_screen_pop_opens_the_page_with_the_number_and_its_card(client, agent, cases):
    cases.make(Status.ACCEPTED)
    html = client.post("/register/caller/", {"phone": PHONE}, **EN).content.decode()
    assert f'value="{PHONE}"' in html  # the number the agent is talking to, in the input
    assert "138****8000" in html
    assert '<h2 class="customer-name">张* <span class="muted">138****8000</span></h2>' in html


def test_phone_numbers_are_not_taken_from_the_address(client, agent, cases):
    """A number in a GET query ends up in access logs, proxies and browser history."""
    cases.make(Status.ACCEPTED)
    page = client.get(REGISTER, {"phone": PHONE}, **EN)
    html = page.content.decode()
    assert page.status_code == 200
    assert f'value="{PHONE}"' not in html  # not in the phone field
    assert "138****8000" not in html  # and no card looked up
    assert client.get(LOOKUP, {"phone": PHONE}, **EN).status_code == 405
    assert client.get("/register/caller/", {"phone": PHONE}, **EN).status_code == 405
    assert not AuditEvent.objects.filter(kind=AuditKind.PERSONAL_DATA_READ).exists()
    # The same look-up by POST works and is audited as a read.
    card = client.post(LOOKUP, {"phone": PHONE}, **EN).content.decode()
    assert '<h2 class="customer-name">张* <span class="muted">138****8000</span></h2>' in card
    assert AuditEvent.objects.filter(kind=AuditKind.PERSONAL_DATA_READ).count() == 1


# --- the customer card ----------------------------------------------------------------------------


def test_the_card_of_a_known_number_shows_masked_data_open_cases_and_warnings(
    client, agent, people, org, cases
):
    open_case = cases.make(Status.ACCEPTED)
    closed_case = cases.make(Status.CLOSED, fcr=True)
    customer = Customer.objects.get()
    customer_blacklist(
        actor=people["supervisor"], customer_id=customer.pk, blacklisted=True, reason="辱骂坐席"
    )
    AuditEvent.objects.all().delete()

    response = client.post(LOOKUP, {"phone": "138-1234-8000", "category": org["wrong_charge"].pk}, **EN)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<h2 class="customer-name">张* <span class="muted">138****8000</span></h2>' in html
    assert PHONE not in html
    assert PHONE_E164 not in html
    assert "张三" not in html
    assert "<strong>Blacklisted caller:</strong> 辱骂坐席" in html
    assert "Repeat complaint" in html
    assert "this customer already complained 2 times about “资费类 › 错收” in the last 30 days:" in unescape(
        html
    )
    open_table = html[html.index("<h3>Open cases</h3>") : html.index("<h3>Last 90 days</h3>")]
    history_table = html[html.index("<h3>Last 90 days</h3>") :]
    assert open_case.ticket_no in open_table
    assert closed_case.ticket_no not in open_table
    assert "Accepted" in open_table
    assert [t for t in (open_case.ticket_no, closed_case.ticket_no) if t in history_table] == [
        open_case.ticket_no,
        closed_case.ticket_no,
    ]
    assert case_href(open_case.pk) in open_table
    # Showing the customer is a logged read of their personal data.
    read = AuditEvent.objects.get()
    assert (read.kind, read.object_type, read.object_id, read.actor) == (
        AuditKind.PERSONAL_DATA_READ,
        "customer",
        str(customer.pk),
        people["agent"],
    )


def test_no_repeat_warning_for_another_category(client, agent, org, cases):
    cases.make(Status.ACCEPTED)
    html = client.post(LOOKUP, {"phone": PHONE, "category": org["outage"].pk}, **EN).content.decode()
    assert "Repeat complaint" not in html
    assert "Open cases" in html


def test_no_repeat_warning_without_a_category(client, agent, cases):
    cases.make(Status.ACCEPTED)
    html = client.post(LOOKUP, {"phone": PHONE}, **EN).content.decode()
    assert "Repeat complaint" not in html


def test_the_repeat_warning_ends_after_30_days_and_history_after_90(client, people, org, cases, time_machine):
    start = timezone.now()
    case = cases.make(Status.ACCEPTED)
    params = {"phone": PHONE, "category": org["wrong_charge"].pk}

    def card_after(delta: timedelta) -> str:
        time_machine.move_to(start + delta, tick=False)
        client.force_login(people["agent"])  # sessions last hours, not weeks
        return client.post(LOOKUP, params, **EN).content.decode()

    assert "Repeat complaint" in card_after(timedelta(days=29, hours=23))

    html = card_after(timedelta(days=30, minutes=1))
    assert "Repeat complaint" not in html
    assert case.ticket_no in html[html.index("<h3>Last 90 days</h3>") :]

    html = card_after(timedelta(days=90, minutes=1))
    assert "No complaints in the last 90 days." in html
    assert case.ticket_no in html[html.index("<h3>Open cases</h3>") : html.index("<h3>Last 90 days</h3>")]


def test_the_card_lists_only_cases_in_the_agents_scope_but_warns_of_every_repeat(
    client, agent, people, org, cases
):
    theirs = cases.register(actor=people["agent_other"])
    svc.complaint_accept(actor=people["agent_other"], complaint_id=theirs.pk)
    theirs.refresh_from_db()
    html = client.post(LOOKUP, {"phone": PHONE, "category": org["wrong_charge"].pk}, **EN).content.decode()
    assert "No open cases." in html
    assert "No complaints in the last 90 days." in html
    warning = html[html.index("Repeat complaint") :]
    assert f"{theirs.ticket_no} (" in warning  # named, without a link to a case the agent may not open
    assert f"/cases/{theirs.pk}/" not in html


def test_an_unknown_number_is_a_new_customer(client, agent, cases, unchanged):
    cases.make(Status.ACCEPTED)
    with unchanged():
        html = client.post(LOOKUP, {"phone": CALLER}, **EN).content.decode()
    assert '<span class="badge ok">New customer</span>' in html
    assert "Open cases" not in html


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12345", "'12345' is not a valid phone number."),
        ("abc", "'abc' is not a phone number."),
    ],
)
def test_a_malformed_number_shows_the_error_in_the_card(client, agent, raw, message, unchanged):
    with unchanged():
        response = client.post(LOOKUP, {"phone": raw}, **EN)
    assert response.status_code == 200  # an htmx fragment, swapped in place
    assert f'<p class="error" id="lookup-phone-error">{message}</p>' in unescape(response.content.decode())


def test_an_empty_number_asks_for_one(client, agent):
    html = client.post(LOOKUP, {"phone": " "}, **EN).content.decode()
    assert "Type or paste the caller's number to see the customer." in html


def test_the_card_takes_a_fixed_number_of_queries(client, agent, cases, org):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.post(LOOKUP, {"phone": PHONE, "category": org["wrong_charge"].pk}, **EN)
        return len(ctx.captured_queries)

    cases.make(Status.ACCEPTED)
    one = count()
    for _i in range(4):
        cases.make(Status.ACCEPTED)
    assert count() == one


# --- the category picker --------------------------------------------------------------------------


def test_category_search_finds_leaves_by_chinese_english_and_code(client, agent, org):
    Category.objects.filter(pk=org["outage"].pk).update(name_en="Network outage")
    Category.objects.create(code="network-old", name="旧网络", parent=org["network"], is_active=False)

    def found(q: str) -> list[str]:
        html = client.get(SEARCH, {"q": q}, **EN).content.decode()
        return re.findall(
            r'<li role="option" id="category-option-\d+" class="suggestion" aria-selected="false" data-value="(\d+)"',
            html,
        )

    assert found("错收") == [str(org["wrong_charge"].pk)]
    assert found("OUTAGE") == [str(org["outage"].pk)]
    assert found("billing") == [str(org["wrong_charge"].pk)]  # the parent 'billing' is no leaf
    assert found("网络") == [str(org["outage"].pk)]  # by its parent's name; the inactive one is left out
    assert found("类") == [str(org["wrong_charge"].pk), str(org["outage"].pk)]
    assert found("nothing") == []
    assert found("") == []


def test_category_search_finds_leaves_by_synonyms_and_by_the_leaf_word_in_a_sentence(client, agent, org):
    huge = Category.objects.create(
        code="billing-huge-bill", name="高额账单", parent=org["billing"], sort_order=1
    )
    for word, category in (("扣费", org["wrong_charge"]), ("扣费", huge), ("断网", org["outage"])):
        CategorySynonym.objects.create(category=category, word=word)

    def found(q: str) -> list[int]:
        html = client.get(SEARCH, {"q": q}, **EN).content.decode()
        return [int(pk) for pk in re.findall(r'data-value="(\d+)"', html)]

    assert found("扣费") == [org["wrong_charge"].pk, huge.pk]  # 扣费 → 错收, 高额账单
    assert found("乱扣费了") == [org["wrong_charge"].pk, huge.pk]  # the synonym inside what was typed
    assert found("扣") == [org["wrong_charge"].pk, huge.pk]  # the start of a synonym
    assert found("家里断网") == [org["outage"].pk]
    assert found("话费错收了") == [org["wrong_charge"].pk]  # the leaf's own word in a sentence
    assert found("账单") == [huge.pk]  # own names rank before synonyms and parents
    assert found("资费") == [org["wrong_charge"].pk, huge.pk]  # by the parent


def test_no_match_is_a_disabled_option_of_the_listbox(client, agent, org):
    html = client.get(SEARCH, {"q": "nothing"}, **EN).content.decode()
    assert (
        '<li role="option" id="category-none" class="muted" aria-disabled="true" aria-selected="false">No category matches.</li>'
        in html
    )


def test_typing_again_clears_the_picked_category(client, agent, org):
    response = client.get(SEARCH, {"q": "错", "category": org["wrong_charge"].pk}, **EN)
    assert '<input type="hidden" name="category" id="id_category" value="" hx-swap-oob="true">' in (
        response.content.decode()
    )
    assert response["HX-Trigger-After-Swap"] == "category-picked"
    assert "HX-Trigger-After-Swap" not in client.get(SEARCH, {"q": "错"}, **EN)


def test_picking_a_category_fills_the_hidden_id_and_refreshes_the_card(client, agent, org):
    response = client.get(SEARCH, {"pick": org["wrong_charge"].pk}, **EN)
    html = response.content.decode()
    assert f'<input type="hidden" name="category" id="id_category" value="{org["wrong_charge"].pk}">' in html
    assert 'value="资费类 › 错收"' in html
    assert response["HX-Trigger-After-Swap"] == "category-picked"


def test_a_parent_category_cannot_be_picked(client, agent, org):
    html = client.get(SEARCH, {"pick": org["billing"].pk}, **EN).content.decode()
    assert '<input type="hidden" name="category" id="id_category" value="">' in html


# --- registering ----------------------------------------------------------------------------------


def test_the_hotline_flow_registers_accepts_and_shows_the_ticket(client, agent, org):
    response = client.post(REGISTER, form(org), **EN)
    complaint = Complaint.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/register/?done={complaint.pk}")

    customer = Customer.objects.get()
    assert (customer.name, customer.phone) == ("李四", CALLER_E164)
    assert sorted(CustomerIdentity.objects.values_list("kind", "value")) == [
        ("phone", CALLER_E164),
        ("service_number", "13912345678"),
    ]
    assert complaint.ticket_no == f"TS{timezone.localdate():%Y%m%d}000001"
    assert (complaint.status, complaint.channel, complaint.customer_id) == (
        "accepted",
        "hotline",
        customer.pk,
    )
    assert (complaint.category_id, complaint.level, complaint.business_type) == (
        org["wrong_charge"].pk,
        "dissatisfied",
        "mobile",
    )
    assert (complaint.description, complaint.demand, complaint.service_number) == (
        "本月账单多收了15元流量费。",
        "退还15元",
        "13912345678",
    )
    assert (complaint.preferred_reply_channel, complaint.threatens_external) == ("sms", False)
    assert (complaint.registered_by, complaint.first_contact_owner) == (agent, agent)
    assert events(complaint) == ["registered", "accepted"]
    accepted = complaint.events.get(kind="accepted")
    assert (accepted.payload, accepted.pending_dispatch) == ({"ticket_no": complaint.ticket_no}, True)

    page = client.get(response["Location"], **EN)
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<strong class="ticket-no">{complaint.ticket_no}</strong>' in html
    assert "The acknowledgement to the customer is queued." in html
    assert '<a class="button secondary" href="/register/">Register another</a>' in html
    assert case_href(complaint.pk) in html
    assert CALLER_E164 not in html
    assert "13912345678" not in html


def test_first_contact_resolution_registers_replies_and_closes(client, agent, org):
    response = client.post(
        REGISTER,
        form(org, first_contact_resolution="on", fcr_reply="已核实并当场退还15元。"),
        **EN,
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert events(complaint) == ["registered", "accepted", "replied", "closed"]
    assert (complaint.status, complaint.is_first_contact_resolution) == ("closed", True)
    reply = Reply.objects.get()
    assert (reply.channel, reply.content, reply.replied_by) == ("phone", "已核实并当场退还15元。", agent)
    html = client.get(response["Location"], **EN).content.decode()
    assert "resolved at first contact and closed." in html
    assert '<span class="badge">Closed</span>' in html


def test_first_contact_resolution_needs_the_answer(client, agent, org, unchanged):
    with unchanged():
        response = client.post(REGISTER, form(org, first_contact_resolution="on"), **EN)
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "fcr_reply") == ["Write the answer given to the caller."]


def test_a_malformed_number_is_refused_on_the_phone_field_and_nothing_is_written(
    client, agent, org, unchanged
):
    with unchanged():
        response = client.post(REGISTER, form(org, phone="12345"), **EN)
    html = response.content.decode()
    assert response.status_code == 400
    assert field_errors(html, "phone") == ["'12345' is not a valid phone number."]
    assert 'value="12345"' in html  # the input is kept
    assert "本月账单多收了15元流量费。</textarea>" in html
    assert Complaint.objects.count() == 0


def test_missing_fields_are_named_and_nothing_is_written(client, agent, org, unchanged):
    with unchanged():
        response = client.post(REGISTER, form(org, phone="", description="", category=""), **EN)
    html = response.content.decode()
    assert response.status_code == 400
    assert field_errors(html, "phone") == ["This field is required."]
    assert field_errors(html, "description") == ["This field is required."]
    assert "Choose a category." in html


def test_a_service_refusal_lands_on_the_category_field_with_the_input_kept(client, agent, org, unchanged):
    with unchanged():
        response = client.post(REGISTER, form(org, category=org["billing"].pk), **EN)
    html = response.content.decode()
    assert response.status_code == 400
    assert field_errors(html, "category") == ["Choose a sub-category of '资费类'."]
    assert f'value="{CALLER}"' in html
    assert '<option value="sms" selected>SMS</option>' in html


def test_a_too_long_description_is_refused_by_the_service_on_its_field(client, agent, org, unchanged):
    with unchanged():
        response = client.post(REGISTER, form(org, description="长" * 10_001), **EN)
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "description") == [
        "'description' is too long (10001 characters, at most 10000)."
    ]


def test_the_no_script_select_is_used_when_sent(client, agent, org):
    response = client.post(REGISTER, form(org, category="", category_choice=org["outage"].pk), **EN)
    assert response.status_code == 302
    assert Complaint.objects.get().category_id == org["outage"].pk


def test_a_threat_is_recorded_and_escalates(client, agent, org):
    client.post(REGISTER, form(org, threatens_external="on", level="very_dissatisfied"), **EN)
    complaint = Complaint.objects.get()
    assert (complaint.threatens_external, complaint.escalation_level, complaint.level) == (
        True,
        1,
        "very_dissatisfied",
    )
    assert events(complaint) == ["registered", "escalated", "accepted"]


def test_a_second_call_from_the_same_number_finds_the_same_customer(client, agent, org, cases):
    cases.make(Status.ACCEPTED)
    client.post(REGISTER, form(org, phone=PHONE, customer_name=""), **EN)
    assert Customer.objects.count() == 1
    assert Complaint.objects.filter(customer=Customer.objects.get()).count() == 2


def test_a_script_in_the_description_is_stored_verbatim_and_shown_as_text(client, agent, org):
    text = '<script>alert("x")</script> 话费 & 流量'
    response = client.post(REGISTER, form(org, description=text), **EN)
    complaint = Complaint.objects.get()
    assert complaint.description == text
    html = client.get(response["Location"], **EN).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 话费 &amp; 流量" in html


def test_attachments_are_added_after_registration_and_a_refused_one_is_reported(client, agent, org):
    good = SimpleUploadedFile("bill.txt", "3月账单：彩铃 15元".encode(), content_type="text/plain")
    bad = SimpleUploadedFile("tool.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    response = client.post(REGISTER, {**form(org), "attachments": [good, bad]}, **EN)
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert list(Attachment.objects.values_list("original_name", "content_type", "size")) == [
        ("bill.txt", "text/plain", len("3月账单：彩铃 15元".encode()))
    ]
    assert events(complaint) == ["registered", "accepted", "attachment_added"]
    html = unescape(client.get(response["Location"], **EN).content.decode())
    assert "'tool.exe' was not attached: Files of this type are not accepted as evidence" in html
    assert f'<strong class="ticket-no">{complaint.ticket_no}</strong>' in html


def test_the_success_page_of_a_case_outside_ones_scope_is_refused(client, people, org, cases):
    theirs = cases.register(actor=people["agent_other"], description="别人的投诉")
    client.force_login(people["agent"])
    response = client.get(REGISTER, {"done": theirs.pk}, **EN)
    assert response.status_code == 403
    assert "别人的投诉" not in response.content.decode()
    assert client.get(REGISTER, {"done": 999999}, **EN).status_code == 404


def test_register_and_accept_are_one_transaction(client, agent, org, unchanged, monkeypatch):
    """If accepting fails, the registration is rolled back with it: nothing half-written."""
    from tousu.common.errors import ConflictError
    from tousu.web.views import register as view

    def refuse(**kwargs: Any) -> None:
        raise ConflictError("Somebody else changed it.")

    monkeypatch.setattr(view, "complaint_accept", refuse)
    with unchanged():
        response = client.post(REGISTER, form(org), **EN)
    assert response.status_code == 409
    assert (
        '<div class="alert alert-error" role="alert"><ul class="errorlist nonfield">'
        in response.content.decode()
    )
    assert "Somebody else changed it." in response.content.decode()
    assert ComplaintEvent.objects.count() == 0


# --- the same caller with the same problem within minutes ----------------------------------------------


def test_the_same_phone_and_description_within_minutes_is_offered_as_the_existing_case(client, agent, org):
    first = client.post(REGISTER, form(org), **EN)
    existing = Complaint.objects.get()
    again = client.post(
        REGISTER, form(org, phone="13912345678", description="本月账单多收了15元流量费"), **EN
    )
    assert again.status_code == 200
    html = unescape(again.content.decode())
    assert first.status_code == 302
    offer = html[html.index('id="duplicate-offer"') :]
    offer = offer[: offer.index("</div>")]
    assert f"case {existing.ticket_no} is still open." in offer
    assert (
        f'<button type="submit" name="duplicate" value="add">Add to the existing case {existing.ticket_no}</button>'
        in offer
    )
    assert (
        '<button type="submit" name="duplicate" value="new" class="secondary">Register a new case anyway</button>'
        in offer
    )
    assert Complaint.objects.count() == 1


def test_adding_to_the_existing_case_notes_the_call_and_makes_no_second_case(client, agent, org):
    client.post(REGISTER, form(org), **EN)
    existing = Complaint.objects.get()
    added = client.post(REGISTER, {**form(org), "duplicate": "add"}, **EN)
    assert (added.status_code, added["Location"]) == (302, f"/cases/{existing.pk}/")
    assert Complaint.objects.count() == 1
    note = existing.events.order_by("-id").first()
    assert (note.kind, note.actor_id, note.payload) == (
        "note_added",
        agent.pk,
        {"text": "客户就此投诉再次来电（热线电话）：本月账单多收了15元流量费。"},
    )
    page = client.get(added["Location"], **EN).content.decode()
    assert f"Added to the existing case {existing.ticket_no}; no second case was made." in page


def test_a_new_case_anyway_registers_a_second_one(client, agent, org):
    client.post(REGISTER, form(org), **EN)
    anyway = client.post(REGISTER, {**form(org), "duplicate": "new"}, **EN)
    assert anyway.status_code == 302
    assert Complaint.objects.count() == 2


@pytest.mark.parametrize(
    "change",
    [
        {"description": "宽带断网三天了。"},  # another problem
        {"phone": "13900009999"},  # another caller
    ],
)
def test_another_problem_or_caller_is_registered_without_an_offer(client, agent, org, change):
    client.post(REGISTER, form(org), **EN)
    assert client.post(REGISTER, form(org, **change), **EN).status_code == 302
    assert Complaint.objects.count() == 2


def test_after_the_window_the_same_complaint_is_a_new_case(client, agent, org, time_machine, settings):
    settings.TOUSU_TRIAGE_DUPLICATE_MINUTES = 10
    client.post(REGISTER, form(org), **EN)
    time_machine.move_to(timezone.now() + timedelta(minutes=11))
    client.force_login(agent)
    assert client.post(REGISTER, form(org), **EN).status_code == 302
    assert Complaint.objects.count() == 2
