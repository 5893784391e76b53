"""Each guard of each step: bad input is refused with a clear, typed error and changes nothing."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tousu.common.errors import ConflictError, InvalidTransition, PermissionDenied, ValidationError
from tousu.complaints import services as svc
from tousu.complaints.models import Attachment, ComplaintEvent, Remedy
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_reject_needs_a_listed_reason_and_an_explanation(cases, people, unchanged):
    c = cases.make(Status.REGISTERED)
    with unchanged(), pytest.raises(ValidationError, match="'explanation' is required") as err:
        svc.complaint_reject(actor=people["agent"], complaint_id=c.pk, reason="time_barred", explanation="  ")
    assert err.value.fields == {"explanation": "required"}
    with unchanged(), pytest.raises(ValidationError, match="not a valid reason") as err:
        svc.complaint_reject(actor=people["agent"], complaint_id=c.pk, reason="dont_like_it", explanation="x")
    assert err.value.fields == {"reason": "invalid choice"}


def test_rejection_is_recorded_with_ticket_and_explanation(cases, people):
    c = cases.make(Status.REJECTED)
    assert c.ticket_no is not None
    assert re.fullmatch(r"TS\d{8}\d{6}", c.ticket_no)
    assert (c.rejection_reason, c.rejection_explanation) == ("time_barred", "超过5个月的账单争议不予受理。")
    event = ComplaintEvent.objects.get(complaint=c, kind="rejected")
    assert event.payload["reason"] == "time_barred"
    assert event.pending_dispatch is True  # the customer is told, never silently dropped


def test_reply_needs_content(cases, people, unchanged):
    c = cases.make(Status.PLAN_PROPOSED)
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_reply(actor=people["handler"], complaint_id=c.pk, channel="sms", content="")
    assert err.value.fields == {"content": "required"}
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_reply(actor=people["handler"], complaint_id=c.pk, channel="pigeon", content="ok")
    assert err.value.fields == {"channel": "invalid choice"}


def test_first_contact_reply_only_by_the_owner_and_only_when_flagged(cases, people, unchanged):
    c = cases.make(Status.ACCEPTED)
    with unchanged(), pytest.raises(InvalidTransition, match="first contact"):
        svc.complaint_reply(actor=people["agent"], complaint_id=c.pk, channel="phone", content="ok")
    with unchanged(), pytest.raises(PermissionDenied, match="first-contact owner"):
        svc.complaint_reply(
            actor=people["supervisor"],
            complaint_id=c.pk,
            channel="phone",
            content="ok",
            first_contact_resolution=True,
        )


def test_return_visit_needs_an_outcome(cases, people, unchanged):
    c = cases.make(Status.REPLIED)
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.return_visit_record(actor=people["visitor"], complaint_id=c.pk, reached=True, satisfaction=4)
    assert err.value.fields == {"resolved": "required"}
    for score in (None, 0, 6):
        with unchanged(), pytest.raises(ValidationError) as err:
            svc.return_visit_record(
                actor=people["visitor"], complaint_id=c.pk, reached=True, resolved=True, satisfaction=score
            )
        assert err.value.fields == {"satisfaction": "1 to 5"}
    with unchanged(), pytest.raises(ValidationError):
        svc.return_visit_record(actor=people["visitor"], complaint_id=c.pk, reached=False, satisfaction=3)


def test_unreached_customer_keeps_the_case_waiting_then_a_supervisor_may_close(cases, people, unchanged):
    c = cases.make(Status.REPLIED)
    with unchanged(), pytest.raises(InvalidTransition, match="after its return visit"):
        svc.complaint_close(actor=people["supervisor"], complaint_id=c.pk, note="x")
    svc.return_visit_record(actor=people["visitor"], complaint_id=c.pk, reached=False, comment="无人接听")
    assert cases.reload(c).status == Status.REPLIED
    with unchanged(), pytest.raises(PermissionDenied, match="supervisor"):
        svc.complaint_close(actor=people["visitor"], complaint_id=c.pk, note="三次未接通")
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_close(actor=people["supervisor"], complaint_id=c.pk)
    assert err.value.fields == {"note": "required"}
    svc.complaint_close(actor=people["supervisor"], complaint_id=c.pk, note="三次未接通，经理批准结案")
    assert cases.reload(c).status == Status.CLOSED


def test_approval_above_authority_is_refused(cases, people, unchanged):
    c = cases.make(Status.PLAN_PROPOSED)
    remedy = svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="800")
    with (
        unchanged(),
        pytest.raises(PermissionDenied, match=r"800\.00 元 is above your approval limit \(500\.00 元\)"),
    ):
        svc.remedy_decide(actor=people["supervisor"], remedy_id=remedy.pk, approve=True)
    svc.remedy_decide(actor=people["manager"], remedy_id=remedy.pk, approve=True)
    remedy.refresh_from_db()
    assert (remedy.status, remedy.decided_by) == ("approved", people["manager"])


def test_nobody_approves_their_own_request(cases, people, unchanged):
    c = cases.make(Status.PLAN_PROPOSED)
    remedy = svc.remedy_request(actor=people["supervisor"], complaint_id=c.pk, kind="refund", amount="900")
    assert remedy.status == "requested"
    with unchanged(), pytest.raises(PermissionDenied, match="you requested"):
        svc.remedy_decide(actor=people["supervisor"], remedy_id=remedy.pk, approve=True)


def test_refusal_needs_a_note_and_returns_the_case_to_its_plan(cases, people, unchanged):
    c = cases.make(Status.AWAITING_APPROVAL)
    remedy = Remedy.objects.get(complaint=c)
    with unchanged(), pytest.raises(ValidationError):
        svc.remedy_decide(actor=people["supervisor"], remedy_id=remedy.pk, approve=False)
    svc.remedy_decide(actor=people["supervisor"], remedy_id=remedy.pk, approve=False, note="依据不足")
    assert cases.reload(c).status == Status.PLAN_PROPOSED
    with unchanged(), pytest.raises(ConflictError, match="already decided"):
        svc.remedy_decide(actor=people["manager"], remedy_id=remedy.pk, approve=True)


def test_remedy_amounts(cases, people, unchanged):
    c = cases.make(Status.PLAN_PROPOSED)
    for kind, amount, field in [
        ("compensation", "0", "must be positive"),
        ("refund", "-5", "must be positive"),
        ("apology", "10", "must be 0"),
        ("refund", "abc", "not a number"),
    ]:
        with unchanged(), pytest.raises(ValidationError) as err:
            svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind=kind, amount=amount)
        assert err.value.fields == {"amount": field}
    apology = svc.remedy_request(
        actor=people["handler"], complaint_id=c.pk, kind="apology", description="当面致歉"
    )
    assert (apology.status, apology.amount) == ("approved", Decimal("0.00"))


def test_money_remedy_needing_approval_requires_a_plan(cases, people, unchanged):
    c = cases.make(Status.INVESTIGATING)
    with unchanged(), pytest.raises(InvalidTransition):
        svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="compensation", amount="300")


def test_plan_needs_future_deadline_and_measures(cases, people, unchanged):
    c = cases.make(Status.INVESTIGATING)
    base = {
        "actor": people["handler"],
        "complaint_id": c.pk,
        "kind": "immediate",
        "responsible_id": people["handler"].pk,
    }
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_propose_plan(**base, measures="退费", deadline=timezone.now() - timedelta(minutes=1))
    assert err.value.fields == {"deadline": "not in the future"}
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_propose_plan(**base, measures=" ", deadline=timezone.now() + timedelta(days=1))
    assert err.value.fields == {"measures": "required"}


def test_dispatch_checks_departments_and_assignee(cases, people, org, unchanged):
    c = cases.make(Status.ACCEPTED)
    d = org["dept"]
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_dispatch(
            actor=people["agent"],
            complaint_id=c.pk,
            lead_department_id=d["billing"].pk,
            assignee_id=people["handler_other"].pk,
        )
    assert err.value.fields == {"assignee": "not in the lead department"}
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_dispatch(
            actor=people["agent"],
            complaint_id=c.pk,
            lead_department_id=d["billing"].pk,
            cooperating_department_ids=[d["billing"].pk],
        )
    assert err.value.fields == {"cooperating_departments": "contains the lead department"}
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_dispatch(actor=people["agent"], complaint_id=c.pk, lead_department_id=999999)
    assert err.value.fields == {"lead_department": "unknown department"}
    svc.complaint_dispatch(
        actor=people["agent"],
        complaint_id=c.pk,
        lead_department_id=d["billing"].pk,
        cooperating_department_ids=[d["legal"].pk, d["network"].pk],
        assignee_id=people["handler"].pk,
    )
    c = cases.reload(c)
    assert (c.lead_department, c.assignee) == (d["billing"], people["handler"])
    assert sorted(c.cooperating_departments.values_list("code", flat=True)) == ["legal", "network"]


def test_escalation_limits(cases, people, unchanged):
    c = cases.make(Status.INVESTIGATING)
    svc.complaint_escalate(actor=people["supervisor"], complaint_id=c.pk, reason="危机", to_level=3)
    with unchanged(), pytest.raises(ValidationError, match=r"already at the top escalation level \(3\)"):
        svc.complaint_escalate(actor=people["supervisor"], complaint_id=c.pk, reason="再升级")
    low = cases.make(Status.INVESTIGATING, phone="13912340001")
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_escalate(actor=people["supervisor"], complaint_id=low.pk, reason="x", to_level=4)
    assert err.value.fields == {"to_level": "above the top level"}
    svc.complaint_escalate(actor=people["supervisor"], complaint_id=low.pk, reason="x", to_level=1)
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_escalate(actor=people["supervisor"], complaint_id=low.pk, reason="x", to_level=1)
    assert err.value.fields == {"to_level": "not higher"}
    closed = cases.make(Status.CLOSED)
    with unchanged(), pytest.raises(InvalidTransition, match="no longer open"):
        svc.complaint_escalate(actor=people["supervisor"], complaint_id=closed.pk, reason="x")
    accepted = cases.make(Status.ACCEPTED)
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_escalate(actor=people["supervisor"], complaint_id=accepted.pk, reason="")
    assert err.value.fields == {"reason": "required"}


def test_dissatisfied_visit_at_top_level_reopens_without_raising_further(cases, people):
    c = cases.make(Status.REPLIED)
    svc.complaint_escalate(actor=people["supervisor"], complaint_id=c.pk, reason="重大", to_level=3)
    svc.return_visit_record(
        actor=people["visitor"], complaint_id=c.pk, reached=True, resolved=False, satisfaction=1
    )
    c = cases.reload(c)
    assert (c.status, c.escalation_level, c.reopen_count) == (Status.REOPENED, 3, 1)


def test_reopening_a_closed_case_needs_a_supervisor_and_a_reason(cases, people, unchanged):
    c = cases.make(Status.CLOSED)
    with unchanged(), pytest.raises(PermissionDenied, match="Only supervisors and managers"):
        svc.complaint_reopen(actor=people["visitor"], complaint_id=c.pk, reason="用户来电")
    with unchanged(), pytest.raises(ValidationError):
        svc.complaint_reopen(actor=people["supervisor"], complaint_id=c.pk, reason="")
    svc.complaint_reopen(actor=people["supervisor"], complaint_id=c.pk, reason="工信部转办")
    c = cases.reload(c)
    assert (c.status, c.escalation_level, c.reopen_count, c.closed_at) == (Status.REOPENED, 1, 1, None)


def test_stale_version_is_a_conflict(cases, people, unchanged):
    c = cases.make(Status.DISPATCHED)
    opened_version = c.version
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk)
    with (
        unchanged(),
        pytest.raises(ConflictError, match=f"version {opened_version}, now {opened_version + 1}"),
    ):
        svc.complaint_request_info(
            actor=people["handler"], complaint_id=c.pk, question="请提供截图", expected_version=opened_version
        )


def test_registration_input(cases, org, unchanged):
    with unchanged(), pytest.raises(ValidationError, match="not a valid phone number") as err:
        cases.register(phone="12345")
    assert err.value.fields == {"phone": "not a valid phone number"}
    with unchanged(), pytest.raises(ValidationError) as err:
        cases.register(phone="call me maybe")
    assert err.value.fields == {"phone": "not a phone number"}
    with unchanged(), pytest.raises(ValidationError, match="Choose a sub-category") as err:
        cases.register(category_id=org["billing"].pk)
    assert err.value.fields == {"category": "choose a sub-category"}
    for field, value in [
        ("channel", "fax"),
        ("level", "angry"),
        ("business_type", "gas"),
        ("preferred_reply_channel", "fax"),
    ]:
        with unchanged(), pytest.raises(ValidationError) as err:
            cases.register(**{field: value})
        assert err.value.fields == {field: "invalid choice"}
    with unchanged(), pytest.raises(ValidationError) as err:
        cases.register(description="")
    assert err.value.fields == {"description": "required"}
    with unchanged(), pytest.raises(ValidationError) as err:
        cases.register(description="x" * 10_001)
    assert err.value.fields == {"description": "too long"}
    with unchanged(), pytest.raises(ValidationError) as err:
        cases.register(received_at=timezone.now() + timedelta(hours=1))
    assert err.value.fields == {"received_at": "in the future"}
    with unchanged(), pytest.raises(ValidationError) as err:
        cases.register(phone="", email="not-an-address")
    assert err.value.fields == {"email": "not an e-mail address"}
    with unchanged(), pytest.raises(ValidationError) as err:
        cases.register(phone="")
    assert err.value.fields == {"phone": "required"}


def test_text_is_stored_verbatim(cases):
    nasty = "<script>alert(1)</script>'; DROP TABLE complaints_complaint; --"
    c = cases.register(description=nasty, demand=nasty)
    c = cases.reload(c)
    assert (c.description, c.demand) == (nasty, nasty)


class TestAttachments:
    def test_accepted_file_is_stored_with_its_digest(self, cases, people, settings):
        c = cases.make(Status.INVESTIGATING)
        a = svc.attachment_add(
            actor=people["handler"], complaint_id=c.pk, name="C:\\bills\\账单.png", content=io.BytesIO(PNG)
        )
        assert (a.original_name, a.content_type, a.size) == ("账单.png", "image/png", len(PNG))
        assert a.file.read() == PNG
        assert ComplaintEvent.objects.filter(complaint=c, kind="attachment_added").count() == 1

    @pytest.mark.parametrize(
        ("name", "content", "problem"),
        [
            ("virus.exe", b"MZ\x90\x00", "type not allowed"),
            ("fake.png", b"%PDF-1.4 not a png", "type not allowed"),
            ("bill.pdf", b"", "empty"),
            ("noextension", b"abc", "no extension"),
            ("notes.txt", b"\x00\x01\x02binary", "type not allowed"),
        ],
    )
    def test_refused_files_leave_nothing(self, cases, people, settings, unchanged, name, content, problem):
        c = cases.make(Status.INVESTIGATING)
        with unchanged(), pytest.raises(ValidationError) as err:
            svc.attachment_add(
                actor=people["handler"], complaint_id=c.pk, name=name, content=io.BytesIO(content)
            )
        assert err.value.fields == {"file": problem}
        assert not (settings.MEDIA_ROOT / "evidence").exists()

    def test_oversize_file_is_refused(self, cases, people, settings, unchanged):
        settings.TOUSU_ATTACHMENT_MAX_BYTES = 1024
        c = cases.make(Status.INVESTIGATING)
        with unchanged(), pytest.raises(ValidationError, match="too large") as err:
            svc.attachment_add(
                actor=people["handler"],
                complaint_id=c.pk,
                name="big.png",
                content=io.BytesIO(PNG + b"\x00" * 1024),
            )
        assert err.value.fields == {"file": "too large"}
        assert Attachment.objects.count() == 0
        assert not (settings.MEDIA_ROOT / "evidence").exists()

    def test_outsider_cannot_attach(self, cases, people, settings, unchanged):
        c = cases.make(Status.INVESTIGATING)
        with unchanged(), pytest.raises(PermissionDenied):
            svc.attachment_add(
                actor=people["handler_other"], complaint_id=c.pk, name="x.png", content=io.BytesIO(PNG)
            )
        assert not (settings.MEDIA_ROOT / "evidence").exists()
