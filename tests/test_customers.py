"""One customer however many channels: identity by phone, e-mail or WeChat; merge and blacklist."""

from __future__ import annotations

import pytest

from tousu.audit.models import AuditEvent
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.complaints import services as svc
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.states import Status
from tousu.customers.models import Customer, CustomerIdentity
from tousu.customers.services import customer_blacklist, customer_find_or_create

pytestmark = pytest.mark.django_db


def test_the_same_phone_typed_differently_is_one_customer(db):
    first = customer_find_or_create(phone="138 1234 8000", name="张三")
    for typed in ["+86 138-1234-8000", "13812348000", "+8613812348000", "(138) 1234 8000"]:
        assert customer_find_or_create(phone=typed).pk == first.pk
    assert Customer.objects.count() == 1
    assert list(CustomerIdentity.objects.values_list("kind", "value")) == [("phone", "+8613812348000")]


def test_a_second_channel_finds_the_customer_and_learns_the_new_identity(db):
    first = customer_find_or_create(phone="13812348000", name="张三")
    same = customer_find_or_create(phone="13812348000", email="ZhangSan@Example.com", wechat_id="wx_zs")
    by_wechat = customer_find_or_create(wechat_id="wx_zs")
    assert first.pk == same.pk == by_wechat.pk
    assert sorted(CustomerIdentity.objects.values_list("kind", "value")) == [
        ("email", "zhangsan@example.com"),
        ("phone", "+8613812348000"),
        ("wechat", "wx_zs"),
    ]
    same.refresh_from_db()
    assert (same.name, same.email, same.wechat_id) == ("张三", "zhangsan@example.com", "wx_zs")


def test_an_identity_of_somebody_else_is_not_taken(db):
    zhang = customer_find_or_create(phone="13812348000", email="a@example.com")
    li = customer_find_or_create(phone="13912340000")
    found = customer_find_or_create(phone="13912340000", email="a@example.com")
    assert found.pk == li.pk
    assert CustomerIdentity.objects.get(kind="email").customer_id == zhang.pk


def test_merge_moves_identities_and_cases_keeps_history_and_is_audited(cases, people):
    a = cases.make(Status.ACCEPTED, phone="13812348000")
    b = cases.make(Status.REGISTERED, phone="13912340000", customer_name="", email="zs@example.com")
    source, target = b.customer, a.customer
    customer_blacklist(actor=people["supervisor"], customer_id=source.pk, blacklisted=True, reason="辱骂坐席")
    merged = svc.customer_merge(actor=people["supervisor"], source_id=source.pk, target_id=target.pk)
    source.refresh_from_db()
    assert merged.pk == target.pk
    assert source.merged_into_id == target.pk
    assert set(CustomerIdentity.objects.filter(customer=target).values_list("value", flat=True)) == {
        "+8613812348000",
        "+8613912340000",
        "zs@example.com",
    }
    assert cases.reload(b).customer_id == target.pk
    merged.refresh_from_db()
    assert (merged.email, merged.is_blacklisted, merged.blacklist_reason) == (
        "zs@example.com",
        True,
        "辱骂坐席",
    )
    event = ComplaintEvent.objects.get(complaint=b, kind="customer_merged")
    assert event.payload == {"from_customer": source.pk, "to_customer": target.pk}
    audit = AuditEvent.objects.get(kind="customer.merged")
    assert audit.payload["complaints"] == [b.pk]
    # A later contact on the merged number lands on the surviving customer.
    assert customer_find_or_create(phone="13912340000").pk == target.pk


def test_merge_refusals_change_nothing(cases, people, unchanged):
    a = cases.make(Status.REGISTERED, phone="13812348000")
    b = cases.make(Status.REGISTERED, phone="13912340000")
    with unchanged(), pytest.raises(PermissionDenied):
        svc.customer_merge(actor=people["agent"], source_id=b.customer_id, target_id=a.customer_id)
    with unchanged(), pytest.raises(ValidationError):
        svc.customer_merge(actor=people["supervisor"], source_id=a.customer_id, target_id=a.customer_id)
    svc.customer_merge(actor=people["supervisor"], source_id=b.customer_id, target_id=a.customer_id)
    with unchanged(), pytest.raises(ValidationError, match="already merged"):
        svc.customer_merge(actor=people["supervisor"], source_id=b.customer_id, target_id=a.customer_id)


def test_blacklist_needs_a_supervisor_and_a_reason(cases, people, unchanged):
    c = cases.make(Status.REGISTERED)
    with unchanged(), pytest.raises(PermissionDenied):
        customer_blacklist(actor=people["agent"], customer_id=c.customer_id, blacklisted=True, reason="骚扰")
    with unchanged(), pytest.raises(ValidationError):
        customer_blacklist(actor=people["supervisor"], customer_id=c.customer_id, blacklisted=True, reason="")
    customer_blacklist(
        actor=people["supervisor"], customer_id=c.customer_id, blacklisted=True, reason="多次辱骂坐席"
    )
    audit = AuditEvent.objects.get(kind="customer.blacklisted")
    assert audit.payload == {"blacklisted": True, "reason": "多次辱骂坐席"}
    # A blacklisted caller's complaint is still registered (a legal duty), and flagged.
    again = cases.register()
    assert (
        ComplaintEvent.objects.get(complaint=again, kind="registered").payload["customer_blacklisted"] is True
    )
