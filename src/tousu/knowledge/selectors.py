"""Reads of the knowledge base: search results, suggestions for a case (with the reasons), the
templates that fit a case, an article's history, and the case's messages with their delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.complaints.models import Complaint
from tousu.knowledge.models import Article, ArticleVersion, ReplyTemplate, TemplateChannel
from tousu.knowledge.search import search_ids, synonym_map
from tousu.knowledge.text import words
from tousu.notifications.models import DeliveryAttempt, DeliveryStatus, Notification, Transport
from tousu.vocabulary.choices import BusinessType, ReplyChannel

SUGGESTIONS = 5


def valid_q(on: date) -> Q:
    return (Q(valid_from__isnull=True) | Q(valid_from__lte=on)) & (
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )


def articles_in_force(on: date | None = None) -> QuerySet[Article]:
    """Published articles whose validity covers ``on`` (default today)."""
    return Article.objects.filter(valid_q(on or timezone.localdate()), published__isnull=False)


def article_search(query: str, *, limit: int = 20) -> list[tuple[Article, float]]:
    """Articles matching ``query``, best first, with their scores."""
    hits = search_ids(query, limit=limit)
    by_id = Article.objects.select_related("published", "owner_department").in_bulk(
        [h.article_id for h in hits]
    )
    return [(by_id[h.article_id], h.score) for h in hits if h.article_id in by_id]


def article_history(article: Article) -> QuerySet[ArticleVersion]:
    return article.versions.select_related("author", "decided_by").order_by("-number")


def awaiting_approval(department_id: int | None) -> QuerySet[ArticleVersion]:
    return ArticleVersion.objects.filter(
        status="pending", article__owner_department_id=department_id
    ).select_related("article", "author")


@dataclass
class Suggestion:
    """One suggested article or template, how strongly, and why."""

    kind: str  # "article" or "template"
    item: Article | ReplyTemplate
    score: float
    reasons: list[str] = field(default_factory=list)


def _category_reason(
    item_categories: set[int], category_id: int | None, parent_id: int | None
) -> tuple[float, str]:
    if category_id is not None and category_id in item_categories:
        return 1.0, _("same category")
    if parent_id is not None and parent_id in item_categories:
        return 0.5, _("same category group")
    return 0.0, ""


def suggest_articles(
    *,
    text: str,
    category_id: int | None = None,
    parent_category_id: int | None = None,
    business_type: str = "",
    region_id: int | None = None,
    limit: int = SUGGESTIONS,
    on: date | None = None,
) -> list[Suggestion]:
    """The articles that fit a complaint: text similarity (search over its description), the same
    category, the same business type and region. Expired articles and articles for another
    region are left out."""
    on = on or timezone.localdate()
    hits = search_ids(text, limit=30, on=on) if text.strip() else []
    best = hits[0].score if hits else 1.0
    similarity = {h.article_id: h.score / best for h in hits}
    ids = set(similarity)
    cats = [c for c in (category_id, parent_category_id) if c is not None]
    if cats:
        ids |= set(
            articles_in_force(on).filter(categories__in=cats).values_list("pk", flat=True).distinct()[:50]
        )
    rows = list(
        articles_in_force(on)
        .filter(pk__in=ids)
        .filter(Q(region__isnull=True) | Q(region_id=region_id))
        .values_list("pk", "business_type", "region_id")
    )
    linked: dict[int, set[int]] = {}
    through = Article.categories.through.objects.filter(article_id__in=[r[0] for r in rows])
    for article_id, cat_id in through.values_list("article_id", "category_id"):
        linked.setdefault(article_id, set()).add(cat_id)
    scored = []
    for pk, article_business, article_region in rows:
        reasons = []
        score = similarity.get(pk, 0.0)
        if score >= 0.2:
            reasons.append(
                _("matches the complaint's words (%(percent)s%%)") % {"percent": round(score * 100)}
            )
        bonus, reason = _category_reason(linked.get(pk, set()), category_id, parent_category_id)
        score += bonus
        if reason:
            reasons.append(reason)
        if article_business and business_type:
            if article_business == business_type:
                score += 0.3
                reasons.append(
                    _("same business type: %(type)s") % {"type": BusinessType(business_type).label}
                )
            else:
                score -= 0.5
        if article_region is not None and article_region == region_id:
            score += 0.3
            reasons.append(_("written for this region"))
        if reasons and score > 0.3:
            scored.append((round(score, 3), pk, reasons))
    scored.sort(key=lambda s: (-s[0], s[1]))
    top = scored[:limit]
    by_id = Article.objects.select_related("published").in_bulk([pk for _score, pk, _r in top])
    return [Suggestion("article", by_id[pk], score, reasons) for score, pk, reasons in top]


def suggest_templates(
    *,
    text: str,
    category_id: int | None = None,
    parent_category_id: int | None = None,
    business_type: str = "",
    reply_channel: str = "",
    limit: int = SUGGESTIONS,
) -> list[Suggestion]:
    """Active templates that fit: same category, shared words with the situation, the customer's
    reply channel, the business type."""
    complaint_words = set(words(text)) if text.strip() else set()
    channel = {
        ReplyChannel.SMS: TemplateChannel.SMS,
        ReplyChannel.EMAIL: TemplateChannel.EMAIL,
        ReplyChannel.LETTER: TemplateChannel.LETTER,
        ReplyChannel.PHONE: TemplateChannel.PHONE,
    }.get(
        reply_channel,
        "",  # type: ignore[call-overload]
    )
    synonyms = synonym_map()
    expanded = set(complaint_words)
    for word in complaint_words:
        expanded.update(synonyms.get(word, []))
    result = []
    for template in ReplyTemplate.objects.filter(is_active=True).prefetch_related("categories"):
        reasons = []
        score, reason = _category_reason(
            {c.pk for c in template.categories.all()}, category_id, parent_category_id
        )
        if reason:
            reasons.append(reason)
        shared = [
            w
            for w in dict.fromkeys(words(f"{template.title} {template.situation}"))
            if w in expanded and len(w) > 1
        ]
        if shared:
            score += min(1.0, 0.34 * len(shared))
            reasons.append(_("situation matches: %(words)s") % {"words": "、".join(shared[:4])})
        if channel and template.channel == channel:
            score += 0.3
            reasons.append(_("for the customer's reply channel"))
        if template.business_type and business_type and template.business_type == business_type:
            score += 0.2
        if score >= 0.5:
            result.append(Suggestion("template", template, round(score, 3), reasons))
    result.sort(key=lambda s: (-s.score, s.item.pk))
    return result[:limit]


def case_suggestions(complaint: Complaint) -> tuple[list[Suggestion], list[Suggestion]]:
    """Articles and templates suggested for a case, from its text and facts."""
    text = f"{complaint.description} {complaint.demand}"[:4000]
    category = complaint.category
    parent_id = category.parent_id if category is not None else None
    articles = suggest_articles(
        text=text,
        category_id=complaint.category_id,
        parent_category_id=parent_id,
        business_type=complaint.business_type,
        region_id=complaint.region_id,
    )
    templates = suggest_templates(
        text=text,
        category_id=complaint.category_id,
        parent_category_id=parent_id,
        business_type=complaint.business_type,
        reply_channel=complaint.preferred_reply_channel,
    )
    return articles, templates


def templates_for_case(complaint: Complaint) -> QuerySet[ReplyTemplate]:
    return ReplyTemplate.objects.filter(is_active=True).order_by("channel", "code")


# -- delivery of what the customer was sent -------------------------------------------------------
class Delivery:
    QUEUED = "queued"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


DELIVERY_LABELS = {
    Delivery.QUEUED: _("queued"),
    Delivery.SENT: _("sent"),
    Delivery.RETRYING: _("failed, will retry"),
    Delivery.FAILED: _("failed"),
}


@dataclass
class SentMessage:
    """One message to the customer and how its delivery went."""

    notification: Notification
    state: str
    reason: str
    attempts: list[DeliveryAttempt]

    @property
    def state_label(self) -> str:
        return str(DELIVERY_LABELS[self.state])

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1


def delivery_state(notification: Notification) -> tuple[str, str]:
    if notification.status == DeliveryStatus.SENT:
        return Delivery.SENT, ""
    if notification.status == DeliveryStatus.FAILED:
        return Delivery.FAILED, notification.last_error
    if notification.attempts and notification.last_error:
        return Delivery.RETRYING, notification.last_error
    return Delivery.QUEUED, ""


def case_messages(complaint_id: int) -> list[SentMessage]:
    """The messages sent (or being sent) to the customer of a case, oldest first, with the
    outbox's delivery attempts: queued, sent, failed with the reason, retried."""
    rows = (
        Notification.objects.filter(complaint_id=complaint_id, transport__in=[Transport.SMS, Transport.EMAIL])
        .prefetch_related("delivery_attempts")
        .order_by("created_at", "id")
    )
    result = []
    for n in rows:
        state, reason = delivery_state(n)
        result.append(SentMessage(n, state, reason, list(n.delivery_attempts.all())))
    return result
