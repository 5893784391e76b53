"""Page: the return-visit survey, opened from the signed link in the customer's message."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from tousu.common.errors import InvalidTransition, TousuError, ValidationError
from tousu.common.links import survey_token_check
from tousu.complaints.models import Complaint
from tousu.complaints.services import return_visit_record
from tousu.complaints.states import Status
from tousu.portal.forms import SurveyForm
from tousu.portal.services import survey_answered
from tousu.portal.views.common import customer_message, origin_of

SUMMARY_CHARS = 80


def _message(request: HttpRequest, title: str, text: str, *, status: int, kind: str = "info") -> HttpResponse:
    return render(request, "portal/message.html", {"title": title, "text": text, "kind": kind}, status=status)


def _closed(request: HttpRequest, complaint: Complaint, *, status: int) -> HttpResponse:
    """The survey of this case takes no answer (any more): say why, politely."""
    if survey_answered(complaint):
        return _message(
            request,
            _("Thank you, we already have your answer"),
            _("The survey for complaint %(ticket_no)s has been answered. Each survey takes one answer.")
            % {"ticket_no": complaint.ticket_no},
            status=status,
        )
    return _message(
        request,
        _("This survey is not open"),
        _("Complaint %(ticket_no)s is not waiting for your feedback at the moment.")
        % {"ticket_no": complaint.ticket_no},
        status=status,
    )


@never_cache
def survey(request: HttpRequest, token: str) -> HttpResponse:
    complaint_id = survey_token_check(token)
    complaint = (
        Complaint.objects.select_related("category").filter(pk=complaint_id).first()
        if complaint_id is not None
        else None
    )
    if complaint is None:
        return _message(
            request,
            _("This link does not work"),
            _(
                "The survey link is damaged or has expired (links work for 30 days). If you want to tell "
                "us how your complaint was handled, please call our hotline."
            ),
            status=404,
            kind="error",
        )
    open_now = complaint.status == Status.REPLIED and not survey_answered(complaint)
    if not open_now:
        return _closed(request, complaint, status=200 if request.method != "POST" else 409)
    context = {
        "complaint": complaint,
        "summary": Truncator(complaint.description).chars(SUMMARY_CHARS),
        "reply": complaint.replies.order_by("-replied_at", "-id").first(),
    }
    if request.method != "POST":
        return render(request, "portal/survey.html", {**context, "form": SurveyForm()})
    form = SurveyForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/survey.html", {**context, "form": form}, status=400)
    data = form.cleaned_data
    try:
        visit = return_visit_record(
            actor=None,
            complaint_id=complaint.pk,
            reached=True,
            resolved=data["resolved"],
            satisfaction=data["satisfaction"],
            comment=data["comment"],
            origin=origin_of(request),
        )
    except InvalidTransition:  # answered (or changed) meanwhile, e.g. in another tab
        complaint.refresh_from_db()
        return _closed(request, complaint, status=409)
    except TousuError as exc:
        if isinstance(exc, ValidationError):
            form.add_error(None, exc.message)
        else:
            form.add_error(None, customer_message(exc))
        return render(request, "portal/survey.html", {**context, "form": form}, status=400)
    if visit.satisfied:
        return _message(
            request,
            _("Thank you for your feedback"),
            _("We are glad your problem is resolved."),
            status=200,
            kind="success",
        )
    return _message(
        request,
        _("Thank you for your feedback"),
        _(
            "We are sorry the problem is not solved to your satisfaction. Your complaint %(ticket_no)s "
            "has been reopened and will be handled again by a more senior team."
        )
        % {"ticket_no": complaint.ticket_no},
        status=200,
        kind="success",
    )
