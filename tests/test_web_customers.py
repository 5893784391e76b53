"""The customer page: supervisors and managers blacklist and merge customer records through the
customer services; other roles are refused and nothing changes; numbers travel only in POSTs."""

from __future__ import annotations

from html import unescape

import pytest

from tousu.audit.models import AuditEvent, AuditKind
from tousu.complaints.models import Complaint
from tousu.complaints.states import Status
from tousu.customers.models import Customer

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
OTHER = "13912340000"


@pytest.fixture
def two(cases):
    a = cases.make(Status.ACCEPTED, phone="13812348000")
    b = cases.make(Status.ACCEPTED, phone=OTHER, customer_name="李四")
    return a, b


def html(response) -> str:
    return unescape(response.content.decode())


def test_the_case_page_links_to_the_customer_page_for_supervisors_only(client, people, two):
    a, _b = two
    client.force_login(people["supervisor"])
    assert f'href="/customers/{a.customer_id}/"' in client.get(f"/cases/{a.pk}/", **EN).content.decode()
    client.force_login(people["agent"])
    page = client.get(f"/cases/{a.pk}/", **EN)
    assert page.status_code == 200
    assert f'href="/customers/{a.customer_id}/"' not in page.content.decode()


@pytest.mark.parametrize("role", ["supervisor", "manager"])
def test_the_page_shows_the_masked_record_and_its_cases_and_is_audited(client, people, two, role):
    a, _b = two
    client.force_login(people[role])
    response = client.get(f"/customers/{a.customer_id}/", **EN)
    text = html(response)
    assert response.status_code == 200
    assert "138****8000" in text
    assert "13812348000" not in text
    assert a.ticket_no in text
    assert "Blacklist this caller" in text
    assert "Merge into another customer" in text
    row = AuditEvent.objects.get(kind=AuditKind.PERSONAL_DATA_READ)
    assert (row.actor, row.object_type, row.object_id, row.payload) == (
        people[role],
        "customer",
        str(a.customer_id),
        {"via": "customer-page"},
    )


def test_blacklisting_and_unblacklisting_with_a_reason(client, people, two):
    a, _b = two
    client.force_login(people["supervisor"])
    url = f"/customers/{a.customer_id}/blacklist/"
    response = client.post(url, {"blacklisted": "1", "reason": "多次辱骂坐席"}, **EN)
    assert (response.status_code, response["Location"]) == (302, f"/customers/{a.customer_id}/")
    customer = Customer.objects.get(pk=a.customer_id)
    assert (customer.is_blacklisted, customer.blacklist_reason) == (True, "多次辱骂坐席")
    page = html(client.get(response["Location"], **EN))
    assert "The caller is blacklisted." in page
    assert "Blacklisted: 多次辱骂坐席" in page
    assert client.post(url, {"blacklisted": "0", "reason": ""}, **EN).status_code == 302
    customer.refresh_from_db()
    assert (customer.is_blacklisted, customer.blacklist_reason) == (False, "")
    rows = AuditEvent.objects.filter(kind=AuditKind.CUSTOMER_BLACKLISTED).order_by("id")
    assert [(r.actor, r.via, r.payload) for r in rows] == [
        (people["supervisor"], "web", {"blacklisted": True, "reason": "多次辱骂坐席"}),
        (people["supervisor"], "web", {"blacklisted": False, "reason": ""}),
    ]


def test_blacklisting_without_a_reason_is_a_form_error_and_changes_nothing(client, people, two, unchanged):
    a, _b = two
    client.force_login(people["supervisor"])
    with unchanged():
        response = client.post(
            f"/customers/{a.customer_id}/blacklist/", {"blacklisted": "1", "reason": " "}, **EN
        )
    assert response.status_code == 400
    assert "Say why this caller is blacklisted." in html(response)


@pytest.mark.parametrize("role", ["agent", "handler", "visitor", "inspector", "auditor", "admin"])
def test_other_roles_are_refused_and_nothing_changes(client, people, two, role, unchanged):
    a, b = two
    client.force_login(people[role])
    with unchanged():
        assert client.get(f"/customers/{a.customer_id}/", **EN).status_code == 403
        assert (
            client.post(
                f"/customers/{a.customer_id}/blacklist/", {"blacklisted": "1", "reason": "x"}, **EN
            ).status_code
            == 403
        )
        assert (
            client.post(
                f"/customers/{b.customer_id}/merge/find/", {"found_by": a.ticket_no}, **EN
            ).status_code
            == 403
        )
        assert (
            client.post(f"/customers/{b.customer_id}/merge/", {"target": a.customer_id}, **EN).status_code
            == 403
        )


def test_merging_by_ticket_number(client, people, two):
    a, b = two
    client.force_login(people["manager"])
    found = client.post(f"/customers/{b.customer_id}/merge/find/", {"found_by": a.ticket_no.lower()}, **EN)
    text = html(found)
    assert found.status_code == 200
    assert "Merge into 张* 138****8000" in text
    assert f'<input type="hidden" name="target" value="{a.customer_id}">' in text
    assert not Customer.objects.filter(merged_into__isnull=False).exists()  # only a look-up so far
    done = client.post(f"/customers/{b.customer_id}/merge/", {"target": a.customer_id}, **EN)
    assert (done.status_code, done["Location"]) == (302, f"/customers/{a.customer_id}/")
    assert Customer.objects.get(pk=b.customer_id).merged_into_id == a.customer_id
    assert Complaint.objects.get(pk=b.pk).customer_id == a.customer_id
    merged = AuditEvent.objects.get(kind=AuditKind.CUSTOMER_MERGED)
    assert (merged.actor, merged.via, merged.payload["source"], merged.payload["target"]) == (
        people["manager"],
        "web",
        b.customer_id,
        a.customer_id,
    )
    page = html(client.get(f"/customers/{b.customer_id}/", **EN))
    assert "This record was merged into another customer." in page
    assert "Merge into another customer" not in page


def test_merging_by_a_phone_number_found_by_post(client, people, two):
    a, _b = two
    client.force_login(people["supervisor"])
    found = client.post(f"/customers/{a.customer_id}/merge/find/", {"found_by": "139 1234 0000"}, **EN)
    assert found.status_code == 200
    assert "Merge into 李* 139****0000" in html(found)
    assert OTHER not in found.content.decode()
    by_get = client.get(f"/customers/{a.customer_id}/merge/find/", {"found_by": OTHER})
    # A GET looks nothing up (a phone number never travels in an address): it goes back to the page.
    assert (by_get.status_code, by_get["Location"]) == (302, f"/customers/{a.customer_id}/")


@pytest.mark.parametrize(
    ("found_by", "message"),
    [
        ("TS20990101000001", "No customer has this ticket number or phone number."),
        ("13700000000", "No customer has this ticket number or phone number."),
        ("12345", "'12345' is not a valid phone number."),
        ("", "This field is required."),
    ],
)
def test_a_look_up_that_finds_nobody_says_so_and_changes_nothing(
    client, people, two, unchanged, found_by, message
):
    _a, b = two
    client.force_login(people["supervisor"])
    with unchanged():
        response = client.post(f"/customers/{b.customer_id}/merge/find/", {"found_by": found_by}, **EN)
    assert response.status_code == 400
    assert message in html(response)


def test_merging_a_customer_into_itself_is_refused(client, people, two, unchanged):
    a, _b = two
    client.force_login(people["supervisor"])
    with unchanged():
        response = client.post(f"/customers/{a.customer_id}/merge/find/", {"found_by": a.ticket_no}, **EN)
        assert "That is this same customer." in html(response)
        done = client.post(f"/customers/{a.customer_id}/merge/", {"target": a.customer_id}, **EN)
    assert done.status_code == 302
    assert "A customer cannot be merged into itself." in html(client.get(done["Location"], **EN))


def test_an_unknown_customer_is_not_found(client, people, db):
    client.force_login(people["supervisor"])
    assert client.get("/customers/999999/", **EN).status_code == 404
