"""Pages: hotline registration, built for speed.

The agent types or pastes the caller's number; the customer card (masked) appears beside the form
with the customer's open cases, recent history, a repeat-complaint and a blacklist warning. One
submit registers and accepts the complaint (ticket number issued, acknowledgement queued), and, for
a complaint answered during the call, also replies and closes it as a first-contact resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import PermissionDenied, TousuError, ValidationError
from tousu.common.origin import Origin
from tousu.common.phone import normalize_phone
from tousu.complaints import attachments
from tousu.complaints.choices import Channel, ReplyChannel
from tousu.complaints.models import Category, Complaint
from tousu.complaints.search import category_matches
from tousu.complaints.selectors import complaint_for_display, complaints_visible_to
from tousu.complaints.services import (
    attachments_add_with_case,
    complaint_accept,
    complaint_close,
    complaint_note,
    complaint_register,
    complaint_reply,
)
from tousu.complaints.states import OPEN
from tousu.customers.models import Customer, CustomerIdentity, IdentityKind
from tousu.triage.selectors import same_complaint_just_registered
from tousu.triage.services import triage_suggestion_record
from tousu.triage.views import triage_attrs
from tousu.web.forms.register import RegisterForm

HISTORY_DAYS = 90
REPEAT_DAYS = 30
CARD_ROWS = 20
SUGGESTIONS = 15


def _agent(request: HttpRequest) -> User:
    """The signed-in user, who must be allowed to register complaints."""
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    if not user.can(Cap.CASE_REGISTER):
        raise PermissionDenied(_("Your role may not register complaints."))
    return user


def _case_url(pk: int) -> str:
    try:
        return reverse("case", args=[pk])
    except NoReverseMatch:  # the case page is not installed
        return ""


# --- categories ------------------------------------------------------------------------------------


def _leaf_categories() -> QuerySet[Category]:
    """Categories a complaint may be filed under: active, without active sub-categories."""
    return (
        Category.objects.filter(is_active=True)
        .exclude(children__is_active=True)
        .select_related("parent")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )


def _picked_category(category_id: Any) -> Category | None:
    try:
        pk = int(category_id)
    except (TypeError, ValueError):
        return None
    return _leaf_categories().filter(pk=pk).first()


@login_required
def category_search(request: HttpRequest) -> HttpResponse:
    """htmx: the leaf categories for ``q`` (names, codes, synonyms, parents: ``category_matches``)
    as the options of the picker's listbox; with ``pick=<id>``, the picker itself with that category
    chosen (the page's script picks in place, keeping the focus, see ``tousu.js``)."""
    _agent(request)
    if "pick" in request.GET:
        picked = _picked_category(request.GET["pick"])
        response = render(request, "web/register/_category_picker.html", {"picked": picked})
        response["HX-Trigger-After-Swap"] = "category-picked"  # the customer card rechecks repeat complaints
        return response
    q = request.GET.get("q", "").strip()[:100]
    found = category_matches(q, limit=SUGGESTIONS)
    # Typing again clears the category picked before (out of band), so what is shown is what is sent.
    response = render(request, "web/register/_category_suggestions.html", {"q": q, "found": found})
    if request.GET.get("category"):
        response["HX-Trigger-After-Swap"] = "category-picked"
    return response


# --- the customer card -----------------------------------------------------------------------------


@dataclass
class CustomerCard:
    """What the agent sees about the caller while the call goes on. Masked personal data only."""

    phone_error: str = ""
    looked_up: bool = False
    customer: Customer | None = None
    open_cases: list[Complaint] = field(default_factory=list)
    history: list[Complaint] = field(default_factory=list)
    repeats: list[Complaint] = field(default_factory=list)
    category: Category | None = None


def _card_rows(cases: QuerySet[Complaint]) -> list[Complaint]:
    rows = list(cases[:CARD_ROWS])
    for case in rows:
        case.url = _case_url(case.pk)  # type: ignore[attr-defined]
    return rows


def customer_card(*, actor: User, phone: str, category_id: Any, origin: Origin) -> CustomerCard:
    """The card for a caller's number: the customer (if known), their open cases and last 90 days
    in the actor's scope, and their cases in the same category within 30 days (whoever took them).
    Showing a known customer is logged as a read of their personal data."""
    card = CustomerCard(category=_picked_category(category_id))
    if not phone.strip():
        return card
    try:
        e164 = normalize_phone(phone)
    except ValidationError as exc:
        card.phone_error = exc.message
        return card
    card.looked_up = True
    identity = (
        CustomerIdentity.objects.select_related("customer")
        .filter(kind=IdentityKind.PHONE, value=e164)
        .first()
    )
    if identity is None:
        return card
    customer = identity.customer
    card.customer = customer
    now = timezone.now()
    mine = complaints_visible_to(actor=actor).filter(customer=customer)
    card.open_cases = _card_rows(mine.filter(status__in=list(OPEN)))
    card.history = _card_rows(mine.filter(registered_at__gte=now - timedelta(days=HISTORY_DAYS)))
    if card.category is not None:
        visible = {c.pk: c for c in card.history}
        repeats = (
            Complaint.objects.filter(
                customer=customer,
                category=card.category,
                registered_at__gte=now - timedelta(days=REPEAT_DAYS),
            )
            .select_related("category", "category__parent")
            .order_by("-registered_at", "-id")[:CARD_ROWS]
        )
        for case in repeats:
            case.url = visible[case.pk].url if case.pk in visible else ""  # type: ignore[attr-defined]
            card.repeats.append(case)
    audit_record(
        actor=actor,
        kind=AuditKind.PERSONAL_DATA_READ,
        object_type="customer",
        object_id=customer.pk,
        origin=origin,
        payload={"via": "register-lookup"},
    )
    return card


@require_POST
@login_required
def register_lookup(request: HttpRequest) -> HttpResponse:
    """htmx: the customer card for ``phone`` (and ``category``, for the repeat warning). A POST:
    phone numbers never travel in addresses (they end up in logs and browser history)."""
    actor = _agent(request)
    card = customer_card(
        actor=actor,
        phone=request.POST.get("phone", ""),
        category_id=request.POST.get("category", ""),
        origin=Origin.from_request(request),
    )
    return render(request, "web/register/_customer_card.html", {"card": card})


# --- the form -------------------------------------------------------------------------------------


def _page(
    request: HttpRequest, form: RegisterForm, *, status: int = 200, duplicate: Complaint | None = None
) -> HttpResponse:
    """The registration page with the customer card of the number in the form."""
    picked = _picked_category(form["category_choice"].value() or form["category"].value())
    card = customer_card(
        actor=_agent(request),
        phone=form["phone"].value() or "",
        category_id=picked.pk if picked else None,
        origin=Origin.from_request(request),
    )
    form.fields["phone"].widget.attrs.update(
        {
            "hx-post": reverse("register-lookup"),
            "hx-trigger": "input changed delay:300ms",
            "hx-target": "#customer-card",
            "hx-swap": "outerHTML",
            "hx-include": "#id_category",
            "hx-sync": "this:replace",
        }
    )
    form.fields["description"].widget.attrs.update(triage_attrs())  # the classifier's suggestion
    return render(
        request,
        "web/register/register.html",
        {
            "form": form,
            "card": card,
            "picked": picked,
            "leaf_categories": _leaf_categories(),
            "duplicate": duplicate,
        },
        status=status,
    )


class _StepRefused(Exception):
    """A service refused one step of the registration; nothing was written."""

    def __init__(self, step: str, error: TousuError) -> None:
        super().__init__(error.message)
        self.step = step
        self.error = error


def _register(actor: User, data: dict[str, Any], origin: Origin) -> Complaint:
    """Register and accept (and, for a first-contact resolution, reply and close) in one
    transaction, so a refusal at any step leaves nothing behind."""
    step = "register"
    try:
        with transaction.atomic():
            complaint = complaint_register(
                actor=actor,
                channel=data["channel"],
                phone=data["phone"],
                customer_name=data["customer_name"],
                service_number=data["service_number"],
                business_type=data["business_type"],
                category_id=data["category"],
                level=data["level"],
                description=data["description"],
                demand=data["demand"],
                preferred_reply_channel=data["preferred_reply_channel"],
                threatens_external=data["threatens_external"],
                origin=origin,
            )
            step = "accept"
            complaint = complaint_accept(actor=actor, complaint_id=complaint.pk, origin=origin)
            if data["first_contact_resolution"]:
                step = "reply"
                complaint_reply(
                    actor=actor,
                    complaint_id=complaint.pk,
                    channel=ReplyChannel.PHONE,
                    content=data["fcr_reply"],
                    first_contact_resolution=True,
                    origin=origin,
                )
                step = "close"
                complaint = complaint_close(actor=actor, complaint_id=complaint.pk, origin=origin)
    except TousuError as exc:
        raise _StepRefused(step, exc) from exc
    return complaint


def _add_to_existing(
    request: HttpRequest, actor: User, complaint: Complaint, form: RegisterForm, origin: Origin
) -> HttpResponse:
    """The caller repeats a complaint registered minutes ago: note the call (and keep the new
    evidence) on that case instead of opening a second one."""
    data = form.cleaned_data
    with translation.override(settings.LANGUAGE_CODE):  # the case's record speaks the site's language
        text = _("The customer called again about this complaint (%(channel)s): %(description)s") % {
            "channel": Channel(data["channel"]).label,
            "description": data["description"],
        }
    try:
        with attachments.kept_if_committed(), transaction.atomic():
            complaint_note(actor=actor, complaint_id=complaint.pk, text=text, origin=origin)
            refused = attachments_add_with_case(
                actor=actor, complaint_id=complaint.pk, uploads=data["attachments"], origin=origin
            )
    except TousuError as exc:
        form.add_error(None, exc.message)
        return _page(request, form, status=exc.http_status, duplicate=complaint)
    for name, reason in refused:
        messages.warning(
            request, _("'%(name)s' was not attached: %(reason)s") % {"name": name, "reason": reason}
        )
    messages.success(
        request, _("Added to the existing case %(case)s; no second case was made.") % {"case": complaint}
    )
    return redirect(_case_url(complaint.pk) or f"{reverse('register')}?done={complaint.pk}")


@login_required
def register(request: HttpRequest) -> HttpResponse:
    actor = _agent(request)
    origin = Origin.from_request(request)
    if request.method != "POST":
        done = request.GET.get("done", "")
        if done.isdigit():
            complaint = complaint_for_display(actor=actor, complaint_id=int(done), origin=origin)
            return render(
                request,
                "web/register/done.html",
                {"complaint": complaint, "case_url": _case_url(complaint.pk)},
            )
        # A number in the address (``?phone=``) is not taken: see ``register_caller``.
        return _page(request, RegisterForm())

    form = RegisterForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    choice = request.POST.get("duplicate", "")
    if choice != "new":  # the agent has not yet said "a new case anyway"
        same = same_complaint_just_registered(
            actor,
            phone=normalize_phone(form.cleaned_data["phone"]),
            description=form.cleaned_data["description"],
            now=timezone.now(),
        )
        if same is not None and choice == "add":
            return _add_to_existing(request, actor, same, form, origin)
        if same is not None:
            return _page(request, form, duplicate=same)
    # The case and its evidence commit together: a file refused for what it is (type, size) is
    # reported and the case stays registered, but storage that cannot take the files (a full disk)
    # registers nothing, so the retry makes one case, not two.
    try:
        with attachments.kept_if_committed(), transaction.atomic():
            complaint = _register(actor, form.cleaned_data, origin)
            not_attached = [
                _("'%(name)s' was not attached: %(reason)s") % {"name": name, "reason": reason}
                for name, reason in attachments_add_with_case(
                    actor=actor,
                    complaint_id=complaint.pk,
                    uploads=form.cleaned_data["attachments"],
                    origin=origin,
                )
            ]
    except _StepRefused as refused:
        form.add_service_error(refused.error, step=refused.step)
        error = refused.error
        return _page(request, form, status=400 if isinstance(error, ValidationError) else error.http_status)
    except attachments.StorageUnavailable as exc:
        form.add_error(None, exc.message)
        return _page(request, form, status=exc.http_status)
    for warning in not_attached:
        messages.warning(request, warning)
    triage_suggestion_record(actor=actor, complaint=complaint, data=request.POST)  # suggested vs chosen
    return redirect(f"{reverse('register')}?done={complaint.pk}")


@require_POST
@login_required
def register_caller(request: HttpRequest) -> HttpResponse:
    """The page opened for a caller (a telephony screen-pop): ``phone`` is POSTed, never put in
    the address."""
    phone = request.POST.get("phone", "").strip()[:40]
    return _page(request, RegisterForm(initial={"phone": phone} if phone else None))


urlpatterns: list[URLPattern] = [
    path("register/", register, name="register"),
    path("register/caller/", register_caller, name="register-caller"),
    path("register/lookup/", register_lookup, name="register-lookup"),
    path("categories/", category_search, name="category-search"),
]
