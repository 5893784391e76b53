"""Personal data: masked everywhere by default; every read of a case and every reveal is audited."""

from __future__ import annotations

import pytest

from tousu.audit.models import AuditEvent
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.common.masking import mask_account, mask_email, mask_id_number, mask_name, mask_phone
from tousu.common.origin import Origin
from tousu.complaints import services as svc
from tousu.complaints.selectors import complaint_for_display
from tousu.complaints.states import Status
from tousu.customers.services import customer_reveal

WEB = Origin(via="web", ip="10.1.2.3", user_agent="pytest-browser")


def test_masks():
    assert mask_phone("+8613812348000") == "138****8000"
    assert mask_phone("13812348000") == "138****8000"
    assert mask_phone("+442079460000") == "442*****0000"
    assert mask_phone("") == ""
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_name("张三丰") == "张**"
    assert mask_account("+8613812348000") == "138****8000"
    assert mask_account("BB2026000123") == "BB*******123"


@pytest.mark.django_db
def test_reading_a_case_is_logged_with_who_and_where(cases, people):
    c = cases.make(Status.INVESTIGATING)
    complaint_for_display(actor=people["handler"], complaint_id=c.pk, origin=WEB)
    event = AuditEvent.objects.get()
    assert (event.kind, event.actor, event.object_type, event.object_id, event.complaint_id) == (
        "personal_data.read",
        people["handler"],
        "customer",
        str(c.customer_id),
        c.pk,
    )
    assert (event.via, event.ip, event.user_agent) == ("web", "10.1.2.3", "pytest-browser")


@pytest.mark.django_db
def test_reveal_returns_clear_value_and_is_audited(cases, people):
    c = cases.make(Status.INVESTIGATING, service_number="13900001111")
    assert (
        svc.complaint_reveal(actor=people["handler"], complaint_id=c.pk, field="phone", origin=WEB)
        == "+8613812348000"
    )
    assert (
        svc.complaint_reveal(actor=people["agent"], complaint_id=c.pk, field="service_number")
        == "13900001111"
    )
    rows = list(
        AuditEvent.objects.order_by("id").values_list(
            "kind", "actor__username", "field", "complaint_id", "ip"
        )
    )
    assert rows == [
        ("personal_data.revealed", "handler", "phone", c.pk, "10.1.2.3"),
        ("personal_data.revealed", "agent", "service_number", c.pk, None),
    ]


@pytest.mark.django_db
def test_refused_reveals_write_nothing(cases, people, unchanged):
    c = cases.make(Status.INVESTIGATING)
    for actor, error in [
        (people["handler_other"], PermissionDenied),
        (people["auditor"], PermissionDenied),
        (people["inspector"], PermissionDenied),
    ]:
        with unchanged(), pytest.raises(error):
            svc.complaint_reveal(actor=actor, complaint_id=c.pk, field="phone")
    with unchanged(), pytest.raises(ValidationError):
        svc.complaint_reveal(actor=people["handler"], complaint_id=c.pk, field="password")


@pytest.mark.django_db
def test_reveal_outside_a_case_is_for_supervisors(cases, people, unchanged):
    c = cases.make(Status.REGISTERED)
    assert customer_reveal(actor=people["supervisor"], customer_id=c.customer_id, field="name") == "张三"
    assert (
        AuditEvent.objects.filter(
            kind="personal_data.revealed", field="name", actor=people["supervisor"]
        ).count()
        == 1
    )
    with unchanged(), pytest.raises(PermissionDenied):
        customer_reveal(actor=people["agent"], customer_id=c.customer_id, field="name")


@pytest.mark.django_db
def test_audit_events_are_append_only(cases, people):
    c = cases.make(Status.REGISTERED)
    complaint_for_display(actor=people["agent"], complaint_id=c.pk)
    event = AuditEvent.objects.get()
    event.ip = "1.1.1.1"
    with pytest.raises(RuntimeError, match="append-only"):
        event.save()


@pytest.mark.django_db
def test_admin_lists_show_masked_data_only(client, cases, people):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    c = cases.make(Status.ACCEPTED)
    client.force_login(people["admin"])
    for url in [
        "/admin/customers/customer/",
        f"/admin/customers/customer/{c.customer_id}/change/",
        f"/admin/complaints/complaint/{c.pk}/change/",
    ]:
        body = client.get(url).content.decode()
        assert "138****8000" in body, url
        assert "13812348000" not in body, url
        assert "张三" not in body, url
