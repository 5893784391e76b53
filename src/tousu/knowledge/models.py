"""The knowledge base: articles with approved versions, reply templates and phrasings (话术),
the synonym table, the search index and the agents' feedback on suggestions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.knowledge.states import VersionStatus
from tousu.vocabulary.choices import BusinessType


class TemplateChannel(models.TextChoices):
    """Where a template's text goes. SMS counts segments; a phrasing is said, not sent."""

    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    PHONE = "phone", _("Phone phrasing (话术)")
    ANY = "any", _("Any channel")


class Article(models.Model):
    """One knowledge article (a policy or a standard answer). Its text lives in versions; the
    columns ``title``…``valid_until`` copy the published version, for search and suggestions."""

    owner_department = models.ForeignKey(
        "accounts.Department", on_delete=models.PROTECT, related_name="articles", verbose_name=_("owner")
    )
    categories = models.ManyToManyField(
        "complaints.Category", blank=True, related_name="articles", verbose_name=_("categories")
    )
    business_type = models.CharField(
        _("business type"), max_length=20, choices=BusinessType.choices, blank=True, default=""
    )
    region = models.ForeignKey(
        "accounts.Region",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("region (empty: everywhere)"),
    )
    external_ref = models.CharField(_("reference"), max_length=80, unique=True, null=True, blank=True)
    published = models.ForeignKey(
        "ArticleVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    used_count = models.PositiveIntegerField(_("times used"), default=0)
    useful_count = models.PositiveIntegerField(_("marked useful"), default=0)
    not_useful_count = models.PositiveIntegerField(_("marked not useful"), default=0)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")

    def __str__(self) -> str:
        return self.title or f"#{self.pk}"


class ArticleVersion(models.Model):
    """One version of an article's text. Never edited once submitted: a change is a new draft."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"))
    tags = models.CharField(_("tags"), max_length=300, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("written"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("approved or sent back by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["article", "-number"]
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_version_unique_number"),
            models.CheckConstraint(
                condition=models.Q(status__in=VersionStatus.values), name="kb_version_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"


class ReplyTemplate(models.Model):
    """A reply template or a standard phrasing (话术) for one situation and channel. ``{name}``
    fields are filled from the case (``tousu.knowledge.variables``)."""

    code = models.SlugField(_("code"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200)
    situation = models.CharField(_("situation"), max_length=300, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=TemplateChannel.choices)
    body = models.TextField(_("text"))
    categories = models.ManyToManyField(
        "complaints.Category", blank=True, related_name="reply_templates", verbose_name=_("categories")
    )
    business_type = models.CharField(
        _("business type"), max_length=20, choices=BusinessType.choices, blank=True, default=""
    )
    is_active = models.BooleanField(_("active"), default=True)
    used_count = models.PositiveIntegerField(_("times used"), default=0)
    useful_count = models.PositiveIntegerField(_("marked useful"), default=0)
    not_useful_count = models.PositiveIntegerField(_("marked not useful"), default=0)

    class Meta:
        ordering = ["code"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")

    def __str__(self) -> str:
        return self.title


class Synonym(models.Model):
    """One group of words that search treats as the same (扣费=收费=计费)."""

    words = models.CharField(_("words (separated by =)"), max_length=300, unique=True)

    class Meta:
        ordering = ["words"]
        verbose_name = _("synonym group")
        verbose_name_plural = _("synonym groups")

    def __str__(self) -> str:
        return self.words

    def word_list(self) -> list[str]:
        return [w.strip() for w in self.words.replace("＝", "=").split("=") if w.strip()]


class SearchToken(models.Model):
    """One term of a published article in the search index (words, bigrams, pinyin), with the
    weight of the field it came from. Rebuilt whenever the article's published version changes."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+", db_index=False)
    token = models.CharField(max_length=64)
    weight = models.FloatField()

    class Meta:
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")
        constraints = [models.UniqueConstraint(fields=["article", "token"], name="kb_token_unique")]
        indexes = [models.Index(fields=["token", "article", "weight"], name="kb_token_lookup")]

    def __str__(self) -> str:
        return self.token


class Feedback(models.Model):
    """An agent's verdict on one suggestion for one case: useful or not. One row per agent, case
    and suggestion; changing one's mind updates the counters."""

    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(
        ReplyTemplate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    useful = models.BooleanField(_("useful"))
    created_at = models.DateTimeField(_("when"))

    class Meta:
        verbose_name = _("suggestion feedback")
        verbose_name_plural = _("suggestion feedback")
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "article", "user"],
                condition=models.Q(article__isnull=False),
                name="kb_feedback_one_per_article",
            ),
            models.UniqueConstraint(
                fields=["complaint", "template", "user"],
                condition=models.Q(template__isnull=False),
                name="kb_feedback_one_per_template",
            ),
            models.CheckConstraint(
                condition=models.Q(article__isnull=True) ^ models.Q(template__isnull=True),
                name="kb_feedback_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {'+' if self.useful else '-'} {self.article_id or self.template_id}"


class CustomerMessage(models.Model):
    """One message an agent wrote to the customer from the composer (not the formal reply, which is
    the case's ``replied`` event): who, through which origin, the text and the outbox row that
    carries it. Append-only."""

    complaint = models.ForeignKey("complaints.Complaint", on_delete=models.CASCADE, related_name="+")
    notification = models.OneToOneField(
        "notifications.Notification", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=10)
    text = models.TextField(_("text"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    via = models.CharField(_("via"), max_length=120, blank=True)
    template = models.ForeignKey(
        ReplyTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("sent"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message to the customer")
        verbose_name_plural = _("messages to the customer")

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.channel} {self.created_at:%Y-%m-%d %H:%M}"
