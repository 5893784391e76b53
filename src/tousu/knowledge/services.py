"""The one write path of the knowledge base: articles and their versions (draft → approval →
published), reply templates, synonyms, feedback on suggestions, and what the composer sends.

Each service checks the actor, the state (``states.py``) and the input, writes in one transaction
and leaves nothing half-written when it refuses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import Department, Region, User
from tousu.accounts.roles import Cap
from tousu.common.errors import InvalidTransition, NotFound, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.models import Category, Complaint, ComplaintEvent, Reply
from tousu.complaints.services import complaint_note, complaint_reply
from tousu.knowledge.access import access_approve, access_write
from tousu.knowledge.models import (
    Article,
    ArticleVersion,
    CustomerMessage,
    Feedback,
    ReplyTemplate,
    Synonym,
    TemplateChannel,
)
from tousu.knowledge.search import index_article
from tousu.knowledge.states import VersionStatus, can_transition
from tousu.knowledge.variables import template_fields
from tousu.notifications.messages import render
from tousu.notifications.models import Transport
from tousu.notifications.services import customer_language, notification_queue
from tousu.vocabulary.choices import BusinessType, ReplyChannel

MAX_TITLE = 200
MAX_BODY = 50_000
MAX_MESSAGE = 2_000


def _text(value: str, field: str, max_length: int, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(_("'%(field)s' is required.") % {"field": field}, fields={field: "required"})
    if len(text) > max_length:
        raise ValidationError(
            _("'%(field)s' is too long (%(length)s characters, at most %(max_length)s).")
            % {"field": field, "length": len(text), "max_length": max_length},
            fields={field: "too long"},
        )
    return text


def _validity(valid_from: date | None, valid_until: date | None) -> None:
    if valid_from and valid_until and valid_until < valid_from:
        raise ValidationError(
            _("The article cannot expire (%(until)s) before it starts (%(start)s).")
            % {"until": valid_until, "start": valid_from},
            fields={"valid_until": "before valid_from"},
        )


def _business_type(value: str) -> str:
    if value and value not in BusinessType.values:
        raise ValidationError(
            _("'%(value)s' is not a business type.") % {"value": value}, fields={"business_type": "invalid"}
        )
    return value


def _categories(codes: Iterable[str]) -> list[Category]:
    codes = [c for c in codes if c]
    found = list(Category.objects.filter(code__in=codes))
    unknown = sorted(set(codes) - {c.code for c in found})
    if unknown:
        raise ValidationError(
            _("Unknown categories: %(codes)s.") % {"codes": ", ".join(unknown)},
            fields={"categories": "unknown"},
        )
    return found


def _tags(tags: Iterable[str] | str) -> str:
    items = tags.replace("，", ",").split(",") if isinstance(tags, str) else list(tags)
    return _text(",".join(t.strip() for t in items if t.strip()), "tags", 300, required=False)


# -- articles ---------------------------------------------------------------------------------------
@transaction.atomic
def article_create(
    *,
    actor: User | None,
    owner_department_id: int,
    title: str,
    body: str,
    tags: Iterable[str] | str = "",
    category_codes: Iterable[str] = (),
    business_type: str = "",
    region_id: int | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> ArticleVersion:
    """A new article with its first version as a draft (not searchable until approved)."""
    department = Department.objects.filter(pk=owner_department_id).first()
    if department is None:
        raise ValidationError(_("No such department."), fields={"owner_department": "unknown"})
    access_write(actor, department.pk)
    title = _text(title, "title", MAX_TITLE)
    body = _text(body, "body", MAX_BODY)
    _validity(valid_from, valid_until)
    categories = _categories(category_codes)
    if region_id is not None and not Region.objects.filter(pk=region_id).exists():
        raise ValidationError(_("No such region."), fields={"region": "unknown"})
    now = timezone.now()
    article = Article.objects.create(
        owner_department=department,
        business_type=_business_type(business_type),
        region_id=region_id,
        created_at=now,
    )
    article.categories.set(categories)
    return ArticleVersion.objects.create(
        article=article,
        number=1,
        title=title,
        body=body,
        tags=_tags(tags),
        valid_from=valid_from,
        valid_until=valid_until,
        author=actor,
        created_at=now,
    )


@transaction.atomic
def article_draft(
    *,
    actor: User | None,
    article_id: int,
    title: str,
    body: str,
    tags: Iterable[str] | str = "",
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> ArticleVersion:
    """An edit: a new draft version. The published version stays in force until it is approved.
    One open draft (draft or awaiting approval) per article at a time."""
    article = Article.objects.select_for_update().filter(pk=article_id).first()
    if article is None:
        raise NotFound(_("No such article."))
    access_write(actor, article.owner_department_id)
    title = _text(title, "title", MAX_TITLE)
    body = _text(body, "body", MAX_BODY)
    _validity(valid_from, valid_until)
    if article.versions.filter(status__in=[VersionStatus.DRAFT, VersionStatus.PENDING]).exists():
        raise ValidationError(
            _("This article already has a draft in progress; finish or have it decided first."),
            fields={"article": "draft open"},
        )
    last = article.versions.order_by("-number").values_list("number", flat=True).first() or 0
    return ArticleVersion.objects.create(
        article=article,
        number=last + 1,
        title=title,
        body=body,
        tags=_tags(tags),
        valid_from=valid_from,
        valid_until=valid_until,
        author=actor,
        created_at=timezone.now(),
    )


def _lock_version(version_id: int) -> ArticleVersion:
    version = (
        ArticleVersion.objects.select_for_update().select_related("article").filter(pk=version_id).first()
    )
    if version is None:
        raise NotFound(_("No such article version."))
    return version


def _move(version: ArticleVersion, dst: VersionStatus) -> None:
    src = VersionStatus(version.status)
    if not can_transition(src, dst):
        raise InvalidTransition(
            src=src,
            dst=dst,
            message=_("Version %(version)s is '%(src)s' and cannot become '%(dst)s'.")
            % {"version": version.number, "src": src.label, "dst": dst.label},
        )
    version.status = dst


@transaction.atomic
def article_submit(*, actor: User | None, version_id: int) -> ArticleVersion:
    """Send a draft to the owning department's supervisor for approval."""
    version = _lock_version(version_id)
    access_write(actor, version.article.owner_department_id)
    _move(version, VersionStatus.PENDING)
    version.submitted_at = timezone.now()
    version.save(update_fields=["status", "submitted_at"])
    return version


def _publish(version: ArticleVersion, now: Any) -> None:
    article = Article.objects.select_for_update().get(pk=version.article_id)
    ArticleVersion.objects.filter(article=article, status=VersionStatus.PUBLISHED).exclude(
        pk=version.pk
    ).update(status=VersionStatus.SUPERSEDED)
    article.published = version
    article.title = version.title
    article.valid_from = version.valid_from
    article.valid_until = version.valid_until
    article.save(update_fields=["published", "title", "valid_from", "valid_until"])
    index_article(article)


@transaction.atomic
def article_approve(*, actor: User | None, version_id: int, note: str = "") -> ArticleVersion:
    """Approve a submitted version: it is published, the one before it is superseded, and search
    follows. The approver is kept with the version."""
    version = _lock_version(version_id)
    access_approve(actor, version)
    _move(version, VersionStatus.PUBLISHED)
    now = timezone.now()
    version.decided_by = actor
    version.decided_at = now
    version.decision_note = _text(note, "note", 2000, required=False)
    version.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _publish(version, now)
    return version


@transaction.atomic
def article_reject(*, actor: User | None, version_id: int, note: str) -> ArticleVersion:
    """Send a submitted version back with the reason; the published version stays in force."""
    version = _lock_version(version_id)
    access_approve(actor, version)
    note = _text(note, "note", 2000)
    _move(version, VersionStatus.REJECTED)
    version.decided_by = actor
    version.decided_at = timezone.now()
    version.decision_note = note
    version.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return version


@transaction.atomic
def article_import(
    *,
    reference: str,
    owner_department_code: str,
    title: str,
    body: str,
    tags: Iterable[str] | str = "",
    category_codes: Iterable[str] = (),
    business_type: str = "",
    region_code: str = "",
    valid_from: date | None = None,
    valid_until: date | None = None,
    source: str = "import",
) -> tuple[Article, bool]:
    """Load an article from an operator's library (or the seed) as a published version, approved
    by the import itself (recorded in the version's note). Idempotent by ``reference``: an
    unchanged article is left alone, a changed one gets a new published version. Returns
    ``(article, changed)``."""
    reference = _text(reference, "reference", 80)
    department = Department.objects.filter(code=owner_department_code).first()
    if department is None:
        raise ValidationError(
            _("Unknown department '%(code)s'.") % {"code": owner_department_code},
            fields={"department": "unknown"},
        )
    region = None
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        if region is None:
            raise ValidationError(
                _("Unknown region '%(code)s'.") % {"code": region_code}, fields={"region": "unknown"}
            )
    title = _text(title, "title", MAX_TITLE)
    body = _text(body, "body", MAX_BODY)
    tag_text = _tags(tags)
    _validity(valid_from, valid_until)
    categories = _categories(category_codes)
    business_type = _business_type(business_type)
    now = timezone.now()
    article = Article.objects.select_for_update().filter(external_ref=reference).first()
    if article is None:
        article = Article.objects.create(
            external_ref=reference,
            owner_department=department,
            business_type=business_type,
            region=region,
            created_at=now,
        )
        number = 1
    else:
        current = article.published
        if (
            current is not None
            and (current.title, current.body, current.tags, current.valid_from, current.valid_until)
            == (title, body, tag_text, valid_from, valid_until)
            and article.owner_department_id == department.pk
            and article.business_type == business_type
            and article.region_id == (region.pk if region else None)
            and {c.pk for c in article.categories.all()} == {c.pk for c in categories}
        ):
            return article, False
        article.owner_department = department
        article.business_type = business_type
        article.region = region
        article.save(update_fields=["owner_department", "business_type", "region"])
        number = (article.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    article.categories.set(categories)
    version = ArticleVersion.objects.create(
        article=article,
        number=number,
        title=title,
        body=body,
        tags=tag_text,
        valid_from=valid_from,
        valid_until=valid_until,
        status=VersionStatus.PUBLISHED,
        created_at=now,
        submitted_at=now,
        decided_at=now,
        decision_note=_("Imported (%(source)s)") % {"source": source},
    )
    _publish(version, now)
    return article, True


# -- templates and synonyms -------------------------------------------------------------------------
@transaction.atomic
def template_upsert(
    *,
    code: str,
    title: str,
    channel: str,
    body: str,
    situation: str = "",
    category_codes: Iterable[str] = (),
    business_type: str = "",
) -> ReplyTemplate:
    """Create or update a reply template by code (seed and import). Its fields must be known ones."""
    code = _text(code, "code", 80)
    if channel not in TemplateChannel.values:
        raise ValidationError(
            _("'%(value)s' is not a template channel.") % {"value": channel}, fields={"channel": "invalid"}
        )
    body = _text(body, "body", 5000)
    template_fields(body)
    template, _created = ReplyTemplate.objects.update_or_create(
        code=code,
        defaults={
            "title": _text(title, "title", MAX_TITLE),
            "situation": _text(situation, "situation", 300, required=False),
            "channel": channel,
            "body": body,
            "business_type": _business_type(business_type),
        },
    )
    template.categories.set(_categories(category_codes))
    return template


def synonyms_load(groups: Iterable[str]) -> int:
    """Add synonym groups (``扣费=收费=计费``) that are not there yet. Returns how many were added."""
    added = 0
    for words in groups:
        words = "=".join(w.strip() for w in words.split("=") if w.strip())
        if words.count("=") >= 1:
            _obj, created = Synonym.objects.get_or_create(words=words)
            added += created
    return added


# -- feedback and usage -----------------------------------------------------------------------------
def _target(article_id: int | None, template_id: int | None) -> tuple[Article | None, ReplyTemplate | None]:
    if (article_id is None) == (template_id is None):
        raise ValidationError(_("Name one article or one template."), fields={"target": "one of"})
    if article_id is not None:
        article = Article.objects.filter(pk=article_id).first()
        if article is None:
            raise NotFound(_("No such article."))
        return article, None
    template = ReplyTemplate.objects.filter(pk=template_id or 0).first()
    if template is None:
        raise NotFound(_("No such template."))
    return None, template


@transaction.atomic
def feedback_record(
    *,
    actor: User,
    complaint_id: int,
    useful: bool,
    article_id: int | None = None,
    template_id: int | None = None,
    origin: Origin = SYSTEM,
) -> Feedback:
    """An agent marks a suggestion for a case useful or not. One verdict per agent, case and
    suggestion: a changed mind moves the counts, a repeated click changes nothing."""
    complaint = Complaint.objects.filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("No such case."))
    access_complaint(actor, complaint, Cap.CASE_VIEW, origin=origin)
    article, template = _target(article_id, template_id)
    target: Any = article if article is not None else template
    model = type(target)
    lookup = {"complaint": complaint, "user": actor, "article": article, "template": template}
    existing = Feedback.objects.select_for_update().filter(**lookup).first()
    if existing is not None:
        if existing.useful == useful:
            return existing
        old = "useful_count" if existing.useful else "not_useful_count"
        new = "useful_count" if useful else "not_useful_count"
        model.objects.filter(pk=target.pk).update(**{old: F(old) - 1, new: F(new) + 1})
        existing.useful = useful
        existing.created_at = timezone.now()
        existing.save(update_fields=["useful", "created_at"])
        return existing
    field = "useful_count" if useful else "not_useful_count"
    model.objects.filter(pk=target.pk).update(**{field: F(field) + 1})
    return Feedback.objects.create(**lookup, useful=useful, created_at=timezone.now())


def usage_record(*, article_id: int | None = None, template_id: int | None = None) -> None:
    """Count one use (inserted into a reply) of an article or a template."""
    article, template = _target(article_id, template_id)
    target: Any = article if article is not None else template
    type(target).objects.filter(pk=target.pk).update(used_count=F("used_count") + 1)


# -- the composer -----------------------------------------------------------------------------------
class ComposeMode:
    NOTE = "note"
    MESSAGE = "message"
    REPLY = "reply"
    ALL = (NOTE, MESSAGE, REPLY)


SENDABLE = {ReplyChannel.SMS: Transport.SMS, ReplyChannel.EMAIL: Transport.EMAIL}


def message_target(complaint: Complaint) -> tuple[str, str] | None:
    """Where a message to the customer goes: the preferred reply channel when it is SMS or e-mail
    and the case has that address. ``(transport, address)`` or None."""
    transport = SENDABLE.get(ReplyChannel(complaint.preferred_reply_channel))
    customer = complaint.customer
    if transport is None:
        return None
    if transport == Transport.SMS:
        address = customer.phone if customer is not None else ""
    else:
        address = (customer.email if customer is not None else "") or complaint.contact_email
    return (transport, address) if address else None


def message_rendered(complaint: Complaint, text: str) -> tuple[str, str]:
    """Subject and body exactly as the customer receives a composer message."""
    return render(
        "message",
        customer_language(complaint.customer_id),
        {"ticket_no": complaint.ticket_no or f"#{complaint.pk}", "content": text},
    )


@transaction.atomic
def customer_message_send(
    *,
    actor: User | None,
    complaint_id: int,
    text: str,
    template_id: int | None = None,
    origin: Origin = SYSTEM,
) -> CustomerMessage:
    """Send the customer a message (not the formal reply) by their preferred reply channel, through
    the outbox (retries, delivery record). Refused when that channel cannot carry a message."""
    complaint = (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None:
        raise NotFound(_("No such case."))
    access_complaint(actor, complaint, Cap.CASE_REPLY, origin=origin)
    text = _text(text, "text", MAX_MESSAGE)
    target = message_target(complaint)
    if target is None:
        raise ValidationError(
            _(
                "The customer prefers to be answered by %(channel)s, which cannot carry a message from here "
                "(or the case has no address for it). Contact them that way and add a note."
            )
            % {"channel": complaint.get_preferred_reply_channel_display()},
            fields={"mode": "channel"},
        )
    transport, address = target
    now = timezone.now()
    message = CustomerMessage.objects.create(
        complaint=complaint,
        channel=transport,
        text=text,
        actor=actor,
        via=origin.via,
        template_id=template_id
        if template_id and ReplyTemplate.objects.filter(pk=template_id).exists()
        else None,
        created_at=now,
    )
    subject, body = message_rendered(complaint, text)
    if transport == Transport.EMAIL and complaint.ticket_no:
        subject = f"{subject} [{complaint.ticket_no}]"
    notification = notification_queue(
        key=f"kb-message:{message.pk}",
        template="message",
        transport=transport,
        address=address,
        subject=subject,
        body=body,
        language=customer_language(complaint.customer_id),
        complaint_id=complaint.pk,
    )
    message.notification = notification
    message.save(update_fields=["notification"])
    return message


def compose_send(
    *,
    actor: User | None,
    complaint_id: int,
    mode: str,
    text: str,
    channel: str = "",
    template_id: int | None = None,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> ComplaintEvent | CustomerMessage | Reply:
    """What the composer does with its text: an internal note (``complaint_note``), a message to
    the customer (``customer_message_send``), or the formal reply (``complaint_reply``, which moves
    the case to 'replied')."""
    if mode == ComposeMode.NOTE:
        return complaint_note(actor=actor, complaint_id=complaint_id, text=text, origin=origin)
    if mode == ComposeMode.MESSAGE:
        return customer_message_send(
            actor=actor, complaint_id=complaint_id, text=text, template_id=template_id, origin=origin
        )
    if mode == ComposeMode.REPLY:
        return complaint_reply(
            actor=actor,
            complaint_id=complaint_id,
            channel=channel,
            content=text,
            expected_version=expected_version,
            origin=origin,
        )
    raise ValidationError(
        _("'%(value)s' is not a composer mode; use one of: %(allowed)s.")
        % {"value": mode, "allowed": ", ".join(ComposeMode.ALL)},
        fields={"mode": "invalid"},
    )
