"""Pages: following a case with its ticket number and a one-time code, answering a request for
information, and withdrawing the complaint."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache

from tousu.common.errors import InvalidTransition, TousuError
from tousu.common.masking import mask_phone
from tousu.common.origin import client_address
from tousu.common.phone import normalize_phone
from tousu.complaints.models import Complaint
from tousu.complaints.selectors import complaint_available_actions
from tousu.complaints.services import complaint_customer_answer, complaint_withdraw
from tousu.complaints.states import OPEN
from tousu.portal.forms import AnswerForm, CodeForm, EvidenceForm, TrackForm, WithdrawForm, category_label
from tousu.portal.services import (
    customer_expected_reply,
    customer_open_question,
    customer_status,
    customer_timeline,
    portal_evidence_add,
    tracking_code_request,
    tracking_code_verify,
)
from tousu.portal.views.common import (
    HOUR,
    customer_message,
    first_refusal,
    grant,
    origin_of,
    too_many,
    verified_ids,
)

PENDING = "portal_pending"  # session key: the ticket number and phone a code was asked for
QUARTER = 15 * 60


def track(request: HttpRequest) -> HttpResponse:
    """Ticket number + phone number → a code by SMS, if they match (the answer is the same when
    they do not)."""
    if request.method != "POST":
        initial = {"ticket_no": request.GET.get("ticket", "")[:20]}
        return render(request, "portal/track.html", {"form": TrackForm(initial=initial)})
    form = TrackForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/track.html", {"form": form}, status=400)
    ticket_no = form.cleaned_data["ticket_no"]
    phone = normalize_phone(form.cleaned_data["phone"])
    refused = first_refusal(
        ("portal-code-addr", client_address(request), settings.TOUSU_PORTAL_CODES_PER_ADDRESS, HOUR),
        ("portal-code-phone", phone, settings.TOUSU_PORTAL_CODES_PER_PHONE, QUARTER),
    )
    if refused is not None:
        return too_many(request, refused)
    binding = secrets.token_urlsafe(24)
    tracking_code_request(
        ticket_no=ticket_no, phone=phone, binding=binding, language=translation.get_language()
    )
    request.session[PENDING] = {"ticket_no": ticket_no, "phone": phone, "binding": binding}
    return redirect("portal:code")


@never_cache
def code(request: HttpRequest) -> HttpResponse:
    """Type the code from the SMS; right, and this browser session may follow the case."""
    pending = request.session.get(PENDING)
    if not pending:
        return redirect("portal:track")
    context = {"ticket_no": pending["ticket_no"], "masked_phone": mask_phone(pending["phone"])}
    if request.method != "POST":
        return render(request, "portal/code.html", {**context, "form": CodeForm()})
    form = CodeForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/code.html", {**context, "form": form}, status=400)
    refused = first_refusal(
        ("portal-check-addr", client_address(request), settings.TOUSU_PORTAL_CHECKS_PER_ADDRESS, HOUR),
        ("portal-check-phone", pending["phone"], settings.TOUSU_PORTAL_CHECKS_PER_PHONE, HOUR),
    )
    if refused is not None:
        return too_many(request, refused)
    result = tracking_code_verify(
        ticket_no=pending["ticket_no"],
        code=form.cleaned_data["code"],
        phone=pending["phone"],
        binding=pending.get("binding", ""),
    )
    if result.complaint_id is None:
        form.add_error("code", result.message)
        return render(request, "portal/code.html", {**context, "form": form}, status=400)
    grant(request, result.complaint_id)
    del request.session[PENDING]
    return redirect("portal:case", ticket_no=pending["ticket_no"])


def _verified_case(request: HttpRequest, ticket_no: str) -> Complaint | None:
    """The case with this ticket number if this browser session proved it may follow it."""
    ids = verified_ids(request)
    if not ids:
        return None
    return (
        Complaint.objects.select_related("customer", "category", "category__parent")
        .filter(ticket_no=ticket_no, pk__in=ids)
        .first()
    )


def _to_track(ticket_no: str) -> HttpResponse:
    return redirect(f"{reverse('portal:track')}?{urlencode({'ticket': ticket_no})}")


def _case_page(
    request: HttpRequest,
    complaint: Complaint,
    *,
    answer_form: AnswerForm | None = None,
    evidence_form: EvidenceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    key, label = customer_status(complaint)
    actions = complaint_available_actions(None, complaint, origin=origin_of(request))
    return render(
        request,
        "portal/case.html",
        {
            "complaint": complaint,
            "status_key": key,
            "status_label": label,
            "timeline": customer_timeline(complaint),
            "replies": complaint.replies.all(),
            "can_answer": "answer" in actions,
            "can_withdraw": "withdraw" in actions,
            "answer_form": answer_form or AnswerForm(),
            "question": customer_open_question(complaint),
            "expected_reply": customer_expected_reply(complaint),
            "can_add_evidence": complaint.status in OPEN,
            "evidence_form": evidence_form or EvidenceForm(),
            "evidence_count": complaint.attachments.count(),
            "masked_phone": mask_phone(complaint.customer.phone) if complaint.customer else "",
            "category_name": " › ".join(
                category_label(c) for c in (complaint.category.parent, complaint.category) if c is not None
            ),
        },
        status=status,
    )


@never_cache
def case(request: HttpRequest, ticket_no: str) -> HttpResponse:
    complaint = _verified_case(request, ticket_no)
    if complaint is None:
        return _to_track(ticket_no)
    return _case_page(request, complaint)


def answer(request: HttpRequest, ticket_no: str) -> HttpResponse:
    """The customer answers our request for information; the case is investigated again."""
    complaint = _verified_case(request, ticket_no)
    if complaint is None:
        return _to_track(ticket_no)
    if request.method != "POST":
        return redirect("portal:case", ticket_no=ticket_no)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        return _case_page(request, complaint, answer_form=form, status=400)
    try:
        complaint_customer_answer(
            actor=None,
            complaint_id=complaint.pk,
            text=form.cleaned_data["answer"],
            origin=origin_of(request),
        )
    except InvalidTransition:
        messages.error(
            request, _("Your complaint is not waiting for information from you: nothing was sent.")
        )
        return redirect("portal:case", ticket_no=ticket_no)
    except TousuError as exc:
        messages.error(request, customer_message(exc))
        return redirect("portal:case", ticket_no=ticket_no)
    messages.success(request, _("Thank you: your answer was sent to the people handling your complaint."))
    return redirect("portal:case", ticket_no=ticket_no)


def evidence(request: HttpRequest, ticket_no: str) -> HttpResponse:
    """The customer adds evidence to their case after filing (only their own, verified case)."""
    complaint = _verified_case(request, ticket_no)
    if complaint is None:
        return _to_track(ticket_no)
    if request.method != "POST":
        return redirect("portal:case", ticket_no=ticket_no)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _case_page(request, complaint, evidence_form=form, status=400)
    uploads = form.cleaned_data["attachments"]
    try:
        refused = portal_evidence_add(complaint_id=complaint.pk, uploads=uploads, origin=origin_of(request))
    except TousuError as exc:
        messages.error(request, customer_message(exc))
        return redirect("portal:case", ticket_no=ticket_no)
    for name, reason in refused:
        messages.error(request, _("“%(name)s” was not added: %(reason)s") % {"name": name, "reason": reason})
    added = len(uploads) - len(refused)
    if added:
        messages.success(
            request,
            ngettext(
                "Thank you: %(count)s file was added to your complaint.",
                "Thank you: %(count)s files were added to your complaint.",
                added,
            )
            % {"count": added},
        )
    return redirect("portal:case", ticket_no=ticket_no)


@never_cache
def withdraw(request: HttpRequest, ticket_no: str) -> HttpResponse:
    """Withdraw the complaint, after a confirmation step."""
    complaint = _verified_case(request, ticket_no)
    if complaint is None:
        return _to_track(ticket_no)
    if "withdraw" not in complaint_available_actions(None, complaint, origin=origin_of(request)):
        messages.error(request, _("This complaint is finished and can no longer be withdrawn."))
        return redirect("portal:case", ticket_no=ticket_no)
    if request.method != "POST":
        return render(request, "portal/withdraw.html", {"complaint": complaint, "form": WithdrawForm()})
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/withdraw.html", {"complaint": complaint, "form": form}, status=400)
    reason = form.cleaned_data["reason"].strip()
    if not reason:
        with translation.override(settings.LANGUAGE_CODE):
            reason = _("Withdrawn by the customer on the website.")
    try:
        complaint_withdraw(actor=None, complaint_id=complaint.pk, reason=reason, origin=origin_of(request))
    except TousuError as exc:
        messages.error(request, customer_message(exc))
        return redirect("portal:case", ticket_no=ticket_no)
    messages.success(request, _("Your complaint has been withdrawn."))
    return redirect("portal:case", ticket_no=ticket_no)
