"""Pages: one customer record, for supervisors and managers — blacklist or unblacklist it with a
reason, and merge it into another customer found by ticket number or phone number (a POST: the
number never travels in the address). Every change goes through the customer services, which
check the capability again and write the audit rows."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.origin import Origin
from tousu.common.phone import normalize_phone
from tousu.common.prg import get_goes_to
from tousu.complaints.models import Complaint
from tousu.complaints.selectors import complaints_visible_to
from tousu.complaints.services import customer_merge
from tousu.customers.models import Customer, CustomerIdentity, IdentityKind
from tousu.customers.services import customer_blacklist

CUSTOMER_CAPS = (Cap.CUSTOMER_MERGE, Cap.CUSTOMER_BLACKLIST)


class BlacklistForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200, required=False)


class MergeFindForm(forms.Form):
    found_by = forms.CharField(
        label=gettext_lazy("Ticket number or phone number of the other customer"), max_length=40
    )


class MergeForm(forms.Form):
    target = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    if not any(user.can(cap) for cap in CUSTOMER_CAPS):
        raise PermissionDenied(_("Only supervisors and managers manage customer records."))
    return user


def _customer(pk: int) -> Customer:
    customer = Customer.objects.select_related("merged_into", "region").filter(pk=pk).first()
    if customer is None:
        raise NotFound(_("No such customer."))
    return customer


def _read(actor: User, customer: Customer, request: HttpRequest, via: str) -> None:
    """The customer's (masked) record was shown: an access-log row, as for the register card."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            kind=AuditKind.PERSONAL_DATA_READ,
            object_type="customer",
            object_id=customer.pk,
            origin=Origin.from_request(request),
            payload={"via": via},
        )


def _page(
    request: HttpRequest,
    actor: User,
    customer: Customer,
    *,
    blacklist_form: BlacklistForm | None = None,
    find_form: MergeFindForm | None = None,
    candidate: Customer | None = None,
    status: int = 200,
) -> HttpResponse:
    cases = complaints_visible_to(actor=actor).filter(customer=customer)[:50]
    identities = CustomerIdentity.objects.filter(customer=customer).order_by("kind", "id")
    return render(
        request,
        "web/customer/page.html",
        {
            "customer": customer,
            "identities": identities,
            "cases": cases,
            "may_blacklist": actor.can(Cap.CUSTOMER_BLACKLIST),
            "may_merge": actor.can(Cap.CUSTOMER_MERGE) and customer.merged_into_id is None,
            "blacklist_form": blacklist_form or BlacklistForm(),
            "find_form": find_form or MergeFindForm(),
            "candidate": candidate,
            "candidate_cases": (
                complaints_visible_to(actor=actor).filter(customer=candidate)[:10] if candidate else []
            ),
        },
        status=status,
    )


@require_GET
@never_cache
@login_required
def customer_page(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    customer = _customer(pk)
    _read(actor, customer, request, "customer-page")
    return _page(request, actor, customer)


@get_goes_to(lambda request, pk: reverse("customer", args=[pk]))
@login_required
def customer_blacklist_change(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    customer = _customer(pk)
    form = BlacklistForm(request.POST)
    blacklisted = request.POST.get("blacklisted") == "1"
    if form.is_valid():
        try:
            customer_blacklist(
                actor=actor,
                customer_id=customer.pk,
                blacklisted=blacklisted,
                reason=form.cleaned_data["reason"],
                origin=Origin.from_request(request),
            )
        except ValidationError as exc:
            form.add_error("reason", exc.message)
        else:
            messages.success(
                request,
                _("The caller is blacklisted.") if blacklisted else _("The caller is no longer blacklisted."),
            )
            return redirect("customer", pk=customer.pk)
    return _page(request, actor, customer, blacklist_form=form, status=400)


def _find_other(text: str) -> Customer | None:
    """The customer of a ticket number or of a phone number (on record), if any."""
    text = text.strip()
    if text.upper().startswith("TS"):
        complaint = Complaint.objects.select_related("customer").filter(ticket_no=text.upper()).first()
        return complaint.customer if complaint is not None else None
    phone = normalize_phone(text, field="found_by")
    identity = (
        CustomerIdentity.objects.select_related("customer")
        .filter(kind=IdentityKind.PHONE, value=phone)
        .first()
    )
    if identity is not None:
        return identity.customer
    return Customer.objects.filter(phone=phone).order_by("pk").first()


@get_goes_to(lambda request, pk: reverse("customer", args=[pk]))
@never_cache
@login_required
def customer_merge_find(request: HttpRequest, pk: int) -> HttpResponse:
    """Look up the customer to merge into (by POST) and show it, masked, for confirmation."""
    actor = _actor(request)
    if not actor.can(Cap.CUSTOMER_MERGE):
        raise PermissionDenied(_("Only supervisors and managers merge customer records."))
    customer = _customer(pk)
    form = MergeFindForm(request.POST)
    if not form.is_valid():
        return _page(request, actor, customer, find_form=form, status=400)
    try:
        other = _find_other(form.cleaned_data["found_by"])
    except ValidationError as exc:
        form.add_error("found_by", exc.message)
        return _page(request, actor, customer, find_form=form, status=400)
    while other is not None and other.merged_into_id is not None:
        other = other.merged_into
    if other is None:
        form.add_error("found_by", _("No customer has this ticket number or phone number."))
        return _page(request, actor, customer, find_form=form, status=400)
    if other.pk == customer.pk:
        form.add_error("found_by", _("That is this same customer."))
        return _page(request, actor, customer, find_form=form, status=400)
    _read(actor, other, request, "customer-merge-find")
    return _page(request, actor, customer, find_form=form, candidate=other)


@get_goes_to(lambda request, pk: reverse("customer", args=[pk]))
@login_required
def customer_merge_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    customer = _customer(pk)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose the customer to merge into first."))
        return redirect("customer", pk=customer.pk)
    target_id = form.cleaned_data["target"]
    try:
        merged = customer_merge(
            actor=actor, source_id=customer.pk, target_id=target_id, origin=Origin.from_request(request)
        )
    except (ValidationError, NotFound) as exc:
        messages.error(request, exc.message)
        return redirect("customer", pk=customer.pk)
    messages.success(request, _("The two customer records are merged into this one."))
    return redirect("customer", pk=merged.pk)


urlpatterns: list[URLPattern] = [
    path("customers/<int:pk>/", customer_page, name="customer"),
    path("customers/<int:pk>/blacklist/", customer_blacklist_change, name="customer-blacklist"),
    path("customers/<int:pk>/merge/find/", customer_merge_find, name="customer-merge-find"),
    path("customers/<int:pk>/merge/", customer_merge_confirm, name="customer-merge"),
]
