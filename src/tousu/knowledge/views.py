"""Knowledge pages (search, article, history and approval) and the case page's composer and
suggestions (htmx fragments under ``/cases/<id>/compose/``). Thin: services write, selectors read."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tousu.accounts.models import Department, User
from tousu.accounts.roles import Cap
from tousu.common.errors import NotFound, PermissionDenied, TousuError, ValidationError
from tousu.common.origin import Origin
from tousu.complaints.access import access_complaint_by_id
from tousu.complaints.models import Category, Complaint
from tousu.knowledge import selectors, services
from tousu.knowledge.access import may_approve, may_write
from tousu.knowledge.models import Article, ArticleVersion, ReplyTemplate
from tousu.knowledge.services import ComposeMode, message_rendered, message_target
from tousu.knowledge.states import VersionStatus
from tousu.knowledge.text import excerpt, render_markdown, sms_count
from tousu.knowledge.variables import VARIABLES, fill
from tousu.notifications.messages import render as render_message
from tousu.notifications.services import customer_language
from tousu.vocabulary.choices import ReplyChannel

MIN_CHARS = 4


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    if not user.can(Cap.CASE_VIEW) and not user.can(Cap.CONFIG_EDIT):
        raise PermissionDenied(_("Your role may not read the knowledge base."))
    return user


def _day(value: str, field: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            _("'%(value)s' is not a date (YYYY-MM-DD).") % {"value": value}, fields={field: "not a date"}
        ) from exc


# -- the knowledge base pages -----------------------------------------------------------------------
@require_GET
@login_required
def kb_search(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    query = request.GET.get("q", "").strip()[:200]
    results = [
        (article, excerpt(article.published.body if article.published else "", 120))
        for article, _score in (selectors.article_search(query) if query else [])
    ]
    context = {
        "q": query,
        "results": results,
        "pending": list(selectors.awaiting_approval(user.department_id)) if user.department_id else [],
        "may_write": user.can(Cap.CONFIG_EDIT)
        or (user.department_id and may_write(user, user.department_id)),
        "departments": Department.objects.filter(is_active=True).order_by("name"),
        "today": timezone.localdate(),
    }
    return render(request, "knowledge/search.html", context)


@require_POST
@login_required
def kb_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    raw = request.POST.get("owner_department", "")
    try:
        version = services.article_create(
            actor=user,
            owner_department_id=int(raw) if raw.isdigit() else (user.department_id or 0),
            title=request.POST.get("title", ""),
            body=request.POST.get("body", ""),
            tags=request.POST.get("tags", ""),
            valid_from=_day(request.POST.get("valid_from", ""), "valid_from"),
            valid_until=_day(request.POST.get("valid_until", ""), "valid_until"),
        )
    except ValidationError as exc:
        messages.error(request, exc.message)
        return redirect("kb")
    messages.success(request, _("Draft saved. Submit it for approval when it is ready."))
    return redirect("kb-article", pk=version.article_id)


def _article(pk: int) -> Article:
    article = Article.objects.select_related("owner_department", "published", "region").filter(pk=pk).first()
    if article is None:
        raise NotFound(_("No such article."))
    return article


@require_GET
@login_required
def kb_article(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    article = _article(pk)
    history = list(selectors.article_history(article))
    today = timezone.localdate()
    context = {
        "article": article,
        "body_html": render_markdown(article.published.body) if article.published else "",
        "history": history,
        "open_draft": next(
            (v for v in history if v.status in (VersionStatus.DRAFT, VersionStatus.PENDING)), None
        ),
        "may_write": may_write(user, article.owner_department_id),
        "may_approve": may_approve(user, article),
        "is_owner": user.department_id == article.owner_department_id or user.can(Cap.CONFIG_EDIT),
        "expired": article.valid_until is not None and article.valid_until < today,
        "categories": list(article.categories.all()),
    }
    return render(request, "knowledge/article.html", context)


@require_POST
@login_required
def kb_draft(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    try:
        services.article_draft(
            actor=user,
            article_id=pk,
            title=request.POST.get("title", ""),
            body=request.POST.get("body", ""),
            tags=request.POST.get("tags", ""),
            valid_from=_day(request.POST.get("valid_from", ""), "valid_from"),
            valid_until=_day(request.POST.get("valid_until", ""), "valid_until"),
        )
    except ValidationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("New draft saved; the published version stays in force until it is approved.")
        )
    return redirect("kb-article", pk=pk)


@require_POST
@login_required
def kb_decide(request: HttpRequest, version_id: int, action: str) -> HttpResponse:
    user = _user(request)
    version = ArticleVersion.objects.filter(pk=version_id).first()
    if version is None or action not in ("submit", "approve", "reject"):
        raise NotFound(_("No such article version."))
    try:
        if action == "submit":
            services.article_submit(actor=user, version_id=version_id)
            messages.success(request, _("Sent for approval."))
        elif action == "approve":
            services.article_approve(actor=user, version_id=version_id, note=request.POST.get("note", ""))
            messages.success(request, _("Approved and published."))
        else:
            services.article_reject(actor=user, version_id=version_id, note=request.POST.get("note", ""))
            messages.success(request, _("Sent back to the author."))
    except PermissionDenied:
        raise
    except TousuError as exc:
        messages.error(request, exc.message)
    return redirect("kb-article", pk=version.article_id)


# -- the composer on the case page ------------------------------------------------------------------
def _case(request: HttpRequest, pk: int, cap: Cap = Cap.CASE_VIEW) -> tuple[User, Complaint]:
    user = request.user
    assert isinstance(user, User)
    return user, access_complaint_by_id(user, pk, cap)


def _preview(complaint: Complaint, mode: str, channel: str, text: str) -> dict[str, object]:
    """Exactly what the customer receives: the outbox's template around the text, and the SMS count."""
    text = text.strip()
    if mode == ComposeMode.NOTE:
        return {"mode": mode, "body": text, "internal": True}
    language = customer_language(complaint.customer_id)
    if mode == ComposeMode.MESSAGE:
        target = message_target(complaint)
        transport = target[0] if target else ""
        subject, body = message_rendered(complaint, text)
    else:
        transport = channel if channel in (ReplyChannel.SMS, ReplyChannel.EMAIL) else ""
        subject, body = render_message(
            "reply", language, {"ticket_no": complaint.ticket_no or f"#{complaint.pk}", "content": text}
        )
    return {
        "mode": mode,
        "transport": transport,
        "subject": subject,
        "body": body,
        "sms": sms_count(body) if transport == "sms" else None,
        "not_sent": not transport,
    }


def _frame(complaint: Complaint, mode: str) -> tuple[str, str]:
    """The text the outbox puts before and after the agent's words, for the live SMS count."""
    _subject, body = (
        message_rendered(complaint, "\x00")
        if mode != ComposeMode.REPLY
        else render_message(
            "reply",
            customer_language(complaint.customer_id),
            {"ticket_no": complaint.ticket_no or "", "content": "\x00"},
        )
    )
    before, _sep, after = body.partition("\x00")
    return before, after


@require_GET
@login_required
def compose(request: HttpRequest, pk: int) -> HttpResponse:
    user, complaint = _case(request, pk)
    articles, templates = selectors.case_suggestions(complaint)
    before, after = _frame(complaint, ComposeMode.MESSAGE)
    context = {
        "complaint": complaint,
        "suggested_articles": articles,
        "suggested_templates": templates,
        "templates": selectors.templates_for_case(complaint),
        "may_reply": user.can(Cap.CASE_REPLY),
        "may_note": user.can(Cap.CASE_NOTE),
        "reply_channels": ReplyChannel.choices,
        "message_target": message_target(complaint),
        "frame_before": before,
        "frame_after": after,
        "sent": selectors.case_messages(complaint.pk),
        "variables": [(name, label) for name, (label, _getter) in VARIABLES.items()],
    }
    return render(request, "knowledge/_composer.html", context)


@require_POST
@login_required
def compose_insert(request: HttpRequest, pk: int) -> HttpResponse:
    """Insert a template (filled from the case) or an article excerpt into the text."""
    user, complaint = _case(request, pk)
    text = request.POST.get("text", "")[:5000]
    error = ""
    template_id = request.POST.get("template", "")
    article_id = request.POST.get("article", "")
    used_template = ""
    try:
        if template_id.isdigit():
            template = ReplyTemplate.objects.filter(pk=int(template_id), is_active=True).first()
            if template is None:
                raise NotFound(_("No such template."))
            filled = fill(template.body, complaint, user)
            text = f"{text.rstrip()}\n{filled}".strip() if text.strip() else filled
            used_template = str(template.pk)
            services.usage_record(template_id=template.pk)
        elif article_id.isdigit():
            article = (
                selectors.articles_in_force().filter(pk=int(article_id)).select_related("published").first()
            )
            if article is None or article.published is None:
                raise NotFound(_("This article is not in force."))
            piece = excerpt(article.published.body, 300)
            text = f"{text.rstrip()}\n{piece}".strip() if text.strip() else piece
            services.usage_record(article_id=article.pk)
    except TousuError as exc:
        error = exc.message
    return render(
        request,
        "knowledge/_composer_text.html",
        {"text": text, "error": error, "used_template": used_template},
    )


@require_POST
@login_required
def compose_preview(request: HttpRequest, pk: int) -> HttpResponse:
    complaint = _case(request, pk)[1]
    mode = request.POST.get("mode", ComposeMode.NOTE)
    if mode not in ComposeMode.ALL:
        mode = ComposeMode.NOTE
    preview = _preview(complaint, mode, request.POST.get("channel", ""), request.POST.get("text", "")[:5000])
    return render(request, "knowledge/_preview.html", {"preview": preview})


@require_POST
@login_required
def compose_send(request: HttpRequest, pk: int) -> HttpResponse:
    user, complaint = _case(request, pk)
    mode = request.POST.get("mode", "")
    template = request.POST.get("template_used", "")
    version = request.POST.get("version", "")
    try:
        services.compose_send(
            actor=user,
            complaint_id=complaint.pk,
            mode=mode,
            text=request.POST.get("text", ""),
            channel=request.POST.get("channel", ""),
            template_id=int(template) if template.isdigit() else None,
            expected_version=int(version) if version.isdigit() and mode == ComposeMode.REPLY else None,
            origin=Origin.from_request(request),
        )
    except PermissionDenied:
        raise
    except TousuError as exc:
        messages.error(request, _("Nothing was sent: %(problem)s") % {"problem": exc.message})
    else:
        done = {
            ComposeMode.NOTE: _("Internal note added."),
            ComposeMode.MESSAGE: _("Message queued for the customer."),
            ComposeMode.REPLY: _("Reply given; the case is now 'replied'."),
        }
        messages.success(request, done[mode])
    return redirect("case", pk=complaint.pk)


@require_POST
@login_required
def compose_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    user, complaint = _case(request, pk)
    article = request.POST.get("article", "")
    template = request.POST.get("template", "")
    useful = request.POST.get("useful") == "1"
    services.feedback_record(
        actor=user,
        complaint_id=complaint.pk,
        useful=useful,
        article_id=int(article) if article.isdigit() else None,
        template_id=int(template) if template.isdigit() else None,
        origin=Origin.from_request(request),
    )
    return render(request, "knowledge/_feedback_done.html", {"useful": useful})


@require_POST
@login_required
def register_suggest(request: HttpRequest) -> HttpResponse:
    """Suggestions while a complaint is being registered (htmx), from its text and facts."""
    user = request.user
    assert isinstance(user, User)
    if not user.can(Cap.CASE_REGISTER):
        raise PermissionDenied(_("Your role may not register complaints."))
    text = f"{request.POST.get('description', '')} {request.POST.get('demand', '')}".strip()[:4000]
    category = request.POST.get("category", "")
    leaf = Category.objects.filter(pk=int(category)).first() if category.isdigit() else None
    articles = []
    if len(text) >= MIN_CHARS:
        articles = selectors.suggest_articles(
            text=text,
            category_id=leaf.pk if leaf else None,
            parent_category_id=leaf.parent_id if leaf else None,
            business_type=request.POST.get("business_type", "")[:20],
        )
    return render(request, "knowledge/_register_suggestions.html", {"suggested_articles": articles})


urlpatterns: list[URLPattern] = [
    path("kb/", kb_search, name="kb"),
    path("kb/new/", kb_create, name="kb-create"),
    path("kb/<int:pk>/", kb_article, name="kb-article"),
    path("kb/<int:pk>/draft/", kb_draft, name="kb-draft"),
    path("kb/versions/<int:version_id>/<str:action>/", kb_decide, name="kb-decide"),
    path("kb/suggest/", register_suggest, name="kb-register-suggest"),
    path("cases/<int:pk>/compose/", compose, name="kb-compose"),
    path("cases/<int:pk>/compose/insert/", compose_insert, name="kb-compose-insert"),
    path("cases/<int:pk>/compose/preview/", compose_preview, name="kb-compose-preview"),
    path("cases/<int:pk>/compose/send/", compose_send, name="kb-compose-send"),
    path("cases/<int:pk>/compose/feedback/", compose_feedback, name="kb-compose-feedback"),
]
