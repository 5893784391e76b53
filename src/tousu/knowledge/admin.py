from django import forms
from django.contrib import admin

from tousu.audit.configadmin import AuditedConfigAdmin
from tousu.common.admin import ReadOnlyAdmin
from tousu.common.errors import ValidationError
from tousu.knowledge.models import Article, ArticleVersion, CustomerMessage, Feedback, ReplyTemplate, Synonym
from tousu.knowledge.variables import template_fields


class ReplyTemplateForm(forms.ModelForm):
    class Meta:
        model = ReplyTemplate
        fields = ["code", "title", "situation", "channel", "body", "categories", "business_type", "is_active"]

    def clean_body(self):
        body = self.cleaned_data["body"]
        try:
            template_fields(body)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message) from exc
        return body


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(AuditedConfigAdmin):
    """Templates are data supervisors edit; every edit is audited, and a template naming an unknown
    field is refused."""

    form = ReplyTemplateForm
    list_display = ["code", "title", "channel", "is_active", "used_count", "useful_count", "not_useful_count"]
    list_filter = ["channel", "is_active"]
    search_fields = ["code", "title", "body"]
    readonly_fields = ["used_count", "useful_count", "not_useful_count"]


@admin.register(Synonym)
class SynonymAdmin(AuditedConfigAdmin):
    list_display = ["words"]
    search_fields = ["words"]


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdmin):
    """Articles change through their versions and the approval (the knowledge pages)."""

    list_display = [
        "title",
        "owner_department",
        "valid_from",
        "valid_until",
        "used_count",
        "useful_count",
        "not_useful_count",
    ]
    list_filter = ["owner_department"]
    search_fields = ["title", "external_ref"]


@admin.register(ArticleVersion)
class ArticleVersionAdmin(ReadOnlyAdmin):
    list_display = ["article", "number", "status", "author", "decided_by", "decided_at"]
    list_filter = ["status"]


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ["complaint", "article", "template", "user", "useful", "created_at"]


@admin.register(CustomerMessage)
class CustomerMessageAdmin(ReadOnlyAdmin):
    list_display = ["complaint", "channel", "actor", "via", "created_at"]
