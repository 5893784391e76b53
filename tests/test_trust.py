"""Issue 9 (part): the case services enforce state, scope, cumulative limits and attribution,
whoever calls them (a page, the portal, the API, e-mail, the worker)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.conftest import snapshot
from tests.test_portal import FILE, _fresh_rate_limits, _keep_active_language, filing, text, verify, web  # noqa: F401
from tousu.common.errors import InvalidTransition, PermissionDenied, ValidationError
from tousu.common.origin import EMAIL, WORKER, Origin
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent, Remedy
from tousu.complaints.states import Status
from tousu.customers.models import Customer, CustomerIdentity

pytestmark = pytest.mark.django_db

PORTAL = Origin(via="portal", ip="10.9.8.7")
API = Origin(via="api:crm")


# --- 2. the customer's answer -------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        Status.ACCEPTED,
        Status.DISPATCHED,
        Status.INVESTIGATING,
        Status.PLAN_PROPOSED,
        Status.AWAITING_APPROVAL,
        Status.REPLIED,
        Status.REOPENED,
        Status.CLOSED,
    ],
)
def test_a_portal_answer_to_a_case_not_waiting_for_the_customer_changes_nothing(web, cases, status):  # noqa: F811
    complaint = cases.make(status)
    verify(web, complaint)
    url = f"/portal/case/{complaint.ticket_no}/"
    before = snapshot()
    response = web.post(f"{url}answer/", {"answer": "我已经把截图发过去了"})
    assert (response.status_code, response["Location"]) == (302, url)
    assert snapshot() == before
    page = text(web.get(url))
    assert "Your complaint is not waiting for information from you: nothing was sent." in page
    assert cases.reload(complaint).status == status


def test_the_answer_service_refuses_principals_other_than_the_customer(cases, unchanged):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    for origin in (API, WORKER, Origin(via="command")):
        with unchanged(), pytest.raises(PermissionDenied, match="Only the customer answers"):
            svc.complaint_customer_answer(actor=None, complaint_id=complaint.pk, text="好的", origin=origin)
    svc.complaint_customer_answer(actor=None, complaint_id=complaint.pk, text="截图见附件", origin=EMAIL)
    event = ComplaintEvent.objects.filter(complaint=complaint).latest("id")
    assert (event.kind, event.from_status, event.to_status, event.actor_label, event.via, event.payload) == (
        "info_received",
        "awaiting_customer",
        "investigating",
        "customer",
        "email",
        {"message": "截图见附件", "from": "customer"},
    )


def test_the_portal_customer_may_not_use_staff_moves(cases, unchanged):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    with unchanged(), pytest.raises(PermissionDenied, match="customer may not do this"):
        svc.complaint_investigate(actor=None, complaint_id=complaint.pk, note="我答复了", origin=PORTAL)
    complaint = cases.make(Status.PLAN_PROPOSED)
    with unchanged(), pytest.raises(PermissionDenied, match="customer may not do this"):
        svc.complaint_reply(actor=None, complaint_id=complaint.pk, channel="sms", content="x", origin=PORTAL)


# --- 3. split remedies --------------------------------------------------------------------------


def test_split_remedies_above_the_requesters_limit_wait_for_a_higher_approver(cases, people):
    c = cases.make(Status.PLAN_PROPOSED)
    first = svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="30")
    assert (first.status, first.decided_by) == ("approved", people["handler"])
    second = svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="30")
    assert (second.status, second.decided_by, cases.reload(c).status) == (
        "requested",
        None,
        Status.AWAITING_APPROVAL,
    )
    svc.remedy_decide(actor=people["supervisor"], remedy_id=second.pk, approve=True)
    second.refresh_from_db()
    assert (second.status, second.decided_by, cases.reload(c).status) == (
        "approved",
        people["supervisor"],
        Status.PLAN_PROPOSED,
    )


def test_a_second_small_compensation_before_a_plan_is_refused_not_self_approved(cases, people, unchanged):
    c = cases.make(Status.ACCEPTED)
    svc.remedy_request(actor=people["agent"], complaint_id=c.pk, kind="compensation", amount="50")
    with unchanged(), pytest.raises(InvalidTransition, match="cannot become 'Awaiting remedy approval'"):
        svc.remedy_request(actor=people["agent"], complaint_id=c.pk, kind="compensation", amount="50")
    assert list(Remedy.objects.filter(complaint=c).values_list("status", "amount")) == [
        ("approved", Decimal("50.00"))
    ]


def test_an_approver_whose_limit_is_below_the_cumulative_total_is_refused(cases, people, unchanged):
    from tousu.accounts.models import ApprovalLimit

    ApprovalLimit.objects.filter(role="supervisor").update(max_amount=Decimal("60"))
    c = cases.make(Status.PLAN_PROPOSED)
    svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="refund", amount="40")
    pending = svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="40")
    assert pending.status == "requested"
    with (
        unchanged(),
        pytest.raises(
            PermissionDenied,
            match=r"40\.00 元 is above your approval limit \(60\.00 元\): with this one, the money remedies "
            r"approved and pending come to 80\.00 元",
        ),
    ):
        svc.remedy_decide(actor=people["supervisor"], remedy_id=pending.pk, approve=True)
    svc.remedy_decide(actor=people["manager"], remedy_id=pending.pk, approve=True)
    assert Remedy.objects.get(pk=pending.pk).decided_by == people["manager"]


def test_the_per_customer_window_counts_remedies_on_the_customers_other_cases(cases, people, settings):
    first = cases.make(Status.PLAN_PROPOSED)
    second = cases.make(Status.PLAN_PROPOSED)
    assert first.customer_id == second.customer_id
    svc.remedy_request(actor=people["handler"], complaint_id=first.pk, kind="compensation", amount="40")
    settings.TOUSU_REMEDY_CUSTOMER_WINDOW_DAYS = 0  # off: each case on its own
    alone = svc.remedy_request(actor=people["handler"], complaint_id=second.pk, kind="refund", amount="5")
    assert alone.status == "approved"
    settings.TOUSU_REMEDY_CUSTOMER_WINDOW_DAYS = 30  # on: 40 + 5 + 10 > 50 for this customer
    pending = svc.remedy_request(actor=people["handler"], complaint_id=second.pk, kind="refund", amount="10")
    assert (pending.status, cases.reload(second).status) == ("requested", Status.AWAITING_APPROVAL)


# --- 4. every event says where it came from ---------------------------------------------------------


def test_web_and_worker_events_record_their_origin(cases, people):
    c = cases.make(Status.INVESTIGATING)
    web_origin = Origin(via="web", ip="10.0.0.1")
    svc.complaint_note(actor=people["handler"], complaint_id=c.pk, text="已核查", origin=web_origin)
    svc.complaint_escalate(actor=None, complaint_id=c.pk, reason="超时", origin=WORKER)
    rows = list(
        ComplaintEvent.objects.filter(complaint=c).order_by("-id").values_list("kind", "actor_label", "via")
    )
    assert rows[:2] == [("escalated", "worker", "worker"), ("note_added", "handler", "web")]


def test_system_principals_may_only_do_what_applies_to_them(cases, unchanged):
    c = cases.make(Status.PLAN_PROPOSED)
    with unchanged(), pytest.raises(PermissionDenied, match="worker may not do this: Reply"):
        svc.complaint_reply(actor=None, complaint_id=c.pk, channel="sms", content="x", origin=WORKER)
    with unchanged(), pytest.raises(PermissionDenied, match="crm may not do this: Request remedies"):
        svc.remedy_request(actor=None, complaint_id=c.pk, kind="compensation", amount="1", origin=API)
    with unchanged(), pytest.raises(PermissionDenied, match="system may not do this"):
        svc.complaint_close(actor=None, complaint_id=c.pk)


# --- 5. an unverified contact detail never changes an existing customer -----------------------------


def _customers() -> list[tuple]:
    return [
        *Customer.objects.order_by("pk").values_list(
            "pk", "name", "phone", "email", "wechat_id", "region_id"
        ),
        *CustomerIdentity.objects.order_by("pk").values_list("pk", "customer_id", "kind", "value"),
    ]


@pytest.mark.parametrize("victim_email", ["", "victim@example.com"])
def test_a_portal_filing_with_someone_elses_phone_leaves_their_record_alone(web, org, cases, victim_email):  # noqa: F811
    victim_case = cases.make(Status.INVESTIGATING, phone="139 1234 5678", email=victim_email)
    before = _customers()
    response = web.post(
        FILE, filing(org, preferred_reply_channel="email", email="Attacker@Example.com", customer_name="李四")
    )
    assert response.status_code == 302
    filed = Complaint.objects.exclude(pk=victim_case.pk).get()
    assert filed.customer_id == victim_case.customer_id  # found by the phone number, as before
    assert _customers() == before  # but not one detail of the customer changed
    assert (filed.contact_email, cases.reload(victim_case).contact_email) == (
        "attacker@example.com",
        victim_email,
    )
    from tousu.notifications.models import Notification
    from tousu.notifications.services import outbox_dispatch

    outbox_dispatch()
    expected = victim_email or "attacker@example.com"  # the record's address wins; else this case's own
    assert list(
        Notification.objects.filter(template="ack", complaint=filed).values_list("address", flat=True)
    ) == [expected]


def test_a_first_portal_filing_puts_only_the_phone_on_the_new_record(web, org):  # noqa: F811
    web.post(FILE, filing(org, preferred_reply_channel="email", email="someone@example.com"))
    complaint = Complaint.objects.get()
    assert (complaint.customer.phone, complaint.customer.email, complaint.contact_email) == (
        "+8613912345678",
        "",
        "someone@example.com",
    )
    assert list(CustomerIdentity.objects.values_list("kind", "value")) == [("phone", "+8613912345678")]


# --- 6. all-cases roles read everywhere and act only in their part ------------------------------


@pytest.mark.parametrize("status", [Status.ACCEPTED, Status.INVESTIGATING, Status.PLAN_PROPOSED])
def test_a_return_visit_specialist_does_not_act_before_the_reply(cases, people, unchanged, status):
    c = cases.make(status)
    visitor = people["visitor"]
    assert svc.complaint_reveal  # reading is fine:
    from tousu.complaints.selectors import complaint_for_display

    assert complaint_for_display(actor=visitor, complaint_id=c.pk).pk == c.pk
    with unchanged(), pytest.raises(PermissionDenied, match="outside your scope"):
        svc.complaint_reveal(actor=visitor, complaint_id=c.pk, field="phone")
    with unchanged(), pytest.raises(PermissionDenied, match="outside your scope"):
        svc.complaint_note(actor=visitor, complaint_id=c.pk, text="看看")
    with unchanged(), pytest.raises(PermissionDenied, match="outside your scope"):
        svc.complaint_escalate(actor=visitor, complaint_id=c.pk, reason="催办")
    if status == Status.PLAN_PROPOSED:
        with unchanged(), pytest.raises(PermissionDenied, match="outside your scope"):
            svc.complaint_reply(actor=visitor, complaint_id=c.pk, channel="sms", content="已处理")


def test_a_return_visit_specialist_acts_after_the_reply(cases, people):
    c = cases.make(Status.REPLIED)
    visitor = people["visitor"]
    assert svc.complaint_reveal(actor=visitor, complaint_id=c.pk, field="phone") == "+8613812348000"
    svc.return_visit_record(actor=visitor, complaint_id=c.pk, reached=True, resolved=True, satisfaction=5)
    svc.complaint_close(actor=visitor, complaint_id=c.pk)
    assert cases.reload(c).status == Status.CLOSED


# --- the event table is append-only in the database ----------------------------------------------


def _event_of(cases) -> ComplaintEvent:
    complaint = cases.make(Status.ACCEPTED)
    return ComplaintEvent.objects.filter(complaint=complaint).order_by("id").first()


@pytest.mark.parametrize(
    ("column", "value"),
    [("kind", "'closed'"), ("actor_label", "'someone else'"), ("payload", "'{}'"), ("via", "'web'")],
)
def test_a_raw_update_of_an_event_is_refused_by_the_database(cases, column, value):
    from django.db import IntegrityError, connection, transaction

    event = _event_of(cases)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE complaints_complaintevent SET {column} = {value} WHERE id = %s", [event.pk])
    assert ComplaintEvent.objects.get(pk=event.pk).kind == "registered"


def test_a_raw_delete_of_an_event_is_refused_by_the_database(cases):
    from django.db import IntegrityError, connection, transaction

    event = _event_of(cases)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM complaints_complaintevent WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        ComplaintEvent.objects.filter(pk=event.pk).delete()
    assert ComplaintEvent.objects.filter(pk=event.pk).exists()


def test_the_outbox_flag_may_still_be_cleared(cases):
    _event_of(cases)
    event = ComplaintEvent.objects.filter(pending_dispatch=True, kind="accepted").get()
    assert ComplaintEvent.objects.filter(pk=event.pk).update(pending_dispatch=False) == 1
    assert ComplaintEvent.objects.get(pk=event.pk).pending_dispatch is False


# --- reclassifying a case ------------------------------------------------------------------------


def test_reclassifying_moves_the_clocks_escalates_and_records_before_and_after(cases, people, org):
    from tousu.sla.defaults import sla_bootstrap
    from tousu.sla.models import SlaClock

    sla_bootstrap()
    c = cases.register()  # registered, 'dissatisfied': first response within 30 minutes
    clock = SlaClock.objects.get(complaint=c, kind="first_response")
    assert clock.target_minutes == 30
    svc.complaint_reclassify(
        actor=people["agent"],
        complaint_id=c.pk,
        category_id=org["outage"].pk,
        level="major",
        reason="实为网络中断",
        origin=Origin(via="web", ip="10.0.0.2"),
    )
    c = cases.reload(c)
    clock.refresh_from_db()
    assert (c.category_id, c.level, c.escalation_level, c.version) == (org["outage"].pk, "major", 2, 3)
    assert (clock.target_minutes, clock.due_at - clock.started_at) == (10, timedelta(minutes=10))
    reclassified, escalated = ComplaintEvent.objects.filter(complaint=c).order_by("-id")[:2][::-1]
    assert (reclassified.kind, reclassified.actor_label, reclassified.via) == ("reclassified", "agent", "web")
    assert reclassified.payload == {
        "before": {"category": "billing-wrong-charge", "level": "dissatisfied"},
        "after": {"category": "network-outage", "level": "major"},
        "reason": "实为网络中断",
        "clocks": [
            {
                "clock": "first_response",
                "from_minutes": 30,
                "to_minutes": 10,
                "from_due_at": (clock.started_at + timedelta(minutes=30)).isoformat(),
                "to_due_at": clock.due_at.isoformat(),
            }
        ],
        "default_department": "network",
    }
    assert (escalated.kind, escalated.payload["to_level"]) == ("escalated", 2)
    assert c.next_due_at == clock.due_at


def test_reclassifying_is_refused_to_readers_principals_and_closed_cases(cases, people, org, unchanged):
    c = cases.make(Status.INVESTIGATING)
    for actor, origin, message in [
        (people["inspector"], Origin(via="web"), "may not do this"),
        (people["handler_other"], Origin(via="web"), "outside your scope"),
        (None, API, "reclassified by staff"),
    ]:
        with unchanged(), pytest.raises(PermissionDenied, match=message):
            svc.complaint_reclassify(
                actor=actor, complaint_id=c.pk, category_id=org["outage"].pk, reason="x", origin=origin
            )
    with unchanged(), pytest.raises(ValidationError, match="Choose a sub-category"):
        svc.complaint_reclassify(
            actor=people["handler"], complaint_id=c.pk, category_id=org["network"].pk, reason="x"
        )
    with unchanged(), pytest.raises(ValidationError, match="this is the case's classification now"):
        svc.complaint_reclassify(actor=people["handler"], complaint_id=c.pk, level="dissatisfied", reason="x")
    closed = cases.make(Status.CLOSED)
    with unchanged(), pytest.raises(InvalidTransition, match="no longer open"):
        svc.complaint_reclassify(
            actor=people["supervisor"], complaint_id=closed.pk, level="major", reason="x"
        )


def test_an_email_case_to_be_classified_by_staff_is_classified_on_its_page(
    client, cases, people, org, settings
):
    settings.TOUSU_EMAIL_CATEGORY = "billing-wrong-charge"  # the category e-mail cases wait in
    c = svc.complaint_register(
        actor=None,
        channel="email",
        email="zs@example.com",
        business_type="other",
        category_id=org["wrong_charge"].pk,
        description="宽带断了",
        preferred_reply_channel="email",
        accept=True,
        origin=EMAIL,
    )
    client.force_login(people["supervisor"])
    page = client.get(f"/cases/{c.pk}/").content.decode()
    assert 'name="reclassify-category"' in page
    response = client.post(
        f"/cases/{c.pk}/do/reclassify/",
        {
            "reclassify-version": c.version,
            "reclassify-category": org["outage"].pk,
            "reclassify-level": "dissatisfied",
            "reclassify-reason": "邮件内容为宽带故障",
        },
    )
    assert response.status_code in (200, 302), response.content.decode()[:500]
    assert cases.reload(c).category_id == org["outage"].pk
