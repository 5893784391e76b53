"""Pages: the portal's start page and filing a complaint."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from tousu.common.errors import TousuError
from tousu.common.masking import mask_email, mask_phone
from tousu.common.origin import client_address
from tousu.common.phone import normalize_phone
from tousu.complaints import attachments
from tousu.complaints.choices import ReplyChannel
from tousu.complaints.services import attachments_add_with_case
from tousu.portal.forms import FileForm
from tousu.portal.services import portal_complaint_file
from tousu.portal.views.common import HOUR, first_refusal, grant, origin_of, too_many

FILED = "portal_filed"  # session key: what the last filing's confirmation page shows


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")


def _form_page(request: HttpRequest, form: FileForm, *, status: int = 200) -> HttpResponse:
    return render(request, "portal/file.html", {"form": form}, status=status)


def file_complaint(request: HttpRequest) -> HttpResponse:
    """The complaint form. A valid one registers and accepts the complaint (ticket number,
    acknowledgement queued), then attaches the evidence files."""
    if request.method != "POST":
        return _form_page(request, FileForm())
    form = FileForm(request.POST, request.FILES)
    if form.is_bot:
        form.is_valid()
        form.add_error(None, _("Your complaint could not be sent. Please try again."))
        return _form_page(request, form, status=400)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    data = form.cleaned_data
    phone = normalize_phone(data["phone"])
    refused = first_refusal(
        ("portal-file-addr", client_address(request), settings.TOUSU_PORTAL_FILINGS_PER_ADDRESS, HOUR),
        ("portal-file-phone", phone, settings.TOUSU_PORTAL_FILINGS_PER_PHONE, HOUR),
    )
    if refused is not None:
        return too_many(request, refused)
    origin = origin_of(request)
    # The case and its evidence commit together: storage that cannot take the files (a full disk)
    # files nothing, and the customer's retry files the complaint once.
    try:
        with attachments.kept_if_committed(), transaction.atomic():
            complaint = portal_complaint_file(
                phone=data["phone"],
                customer_name=data["customer_name"],
                email=data["email"],
                service_number=data["service_number"],
                business_type=data["business_type"],
                category_id=data["category"],
                description=data["description"],
                demand=data["demand"],
                preferred_reply_channel=data["preferred_reply_channel"],
                origin=origin,
                language=translation.get_language(),
            )
            not_attached = [
                f"{name}: {reason}"
                for name, reason in attachments_add_with_case(
                    actor=None, complaint_id=complaint.pk, uploads=data["attachments"], origin=origin
                )
            ]
    except attachments.StorageUnavailable as exc:
        form.add_error(None, exc.message)
        return _form_page(request, form, status=exc.http_status)
    except TousuError as exc:
        form.add_service_error(exc)
        return _form_page(request, form, status=400)
    grant(request, complaint.pk)
    # Where the outbox sends the acknowledgement: the customer's e-mail on record if they chose
    # e-mail (an address given before is kept), else the one given with this filing, else their phone.
    customer = complaint.customer
    assert customer is not None  # the portal always registers with the customer's phone
    email = customer.email or complaint.contact_email
    by_email = complaint.preferred_reply_channel == ReplyChannel.EMAIL and email
    request.session[FILED] = {
        "ticket_no": complaint.ticket_no,
        "address": mask_email(email) if by_email else mask_phone(customer.phone or phone),
        "not_attached": not_attached,
        "attached": len(data["attachments"]) - len(not_attached),
    }
    return redirect("portal:filed")


@never_cache
def filed(request: HttpRequest) -> HttpResponse:
    """The confirmation with the ticket number, for the browser that filed it."""
    done = request.session.get(FILED)
    if not done:
        return redirect("portal:file")
    return render(request, "portal/filed.html", {"done": done})
