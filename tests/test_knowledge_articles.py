"""Knowledge articles: versions, approval by the owning department's supervisor, history with the
approver, validity dates (an expired article leaves search and suggestions)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tousu.accounts.models import User
from tousu.accounts.roles import Role
from tousu.common.errors import InvalidTransition, PermissionDenied, ValidationError
from tousu.knowledge import services as kb
from tousu.knowledge.models import Article, SearchToken
from tousu.knowledge.search import search_ids
from tousu.knowledge.selectors import article_history, suggest_articles
from tousu.knowledge.states import TRANSITIONS, VersionStatus, can_transition
from tousu.knowledge.text import render_markdown

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_people(org):
    dept = org["dept"]["billing"]
    return {
        "writer": User.objects.create_user(
            username="kb_writer", password="pw", role=Role.HANDLER, department=dept
        ),
        "boss": User.objects.create_user(
            username="kb_boss", password="pw", role=Role.SUPERVISOR, department=dept
        ),
    }


def _draft(org, billing_people, **overrides):
    fields = {
        "actor": billing_people["writer"],
        "owner_department_id": org["dept"]["billing"].pk,
        "title": "停机保号收费标准",
        "body": "停机保号期间每月收取 5 元保号费。",
        "tags": "停机,保号",
        "category_codes": ["billing-wrong-charge"],
        "business_type": "mobile",
    }
    fields.update(overrides)
    return kb.article_create(**fields)


def test_the_version_table_allows_only_its_moves():
    allowed = {(s, d) for s in VersionStatus for d in VersionStatus if can_transition(s, d)}
    assert allowed == {
        (VersionStatus.DRAFT, VersionStatus.PENDING),
        (VersionStatus.PENDING, VersionStatus.PUBLISHED),
        (VersionStatus.PENDING, VersionStatus.REJECTED),
        (VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED),
    }
    assert set(TRANSITIONS) == set(VersionStatus)


def test_a_draft_is_not_searchable_until_the_departments_supervisor_approves_it(org, billing_people):
    v1 = _draft(org, billing_people)
    assert v1.status == VersionStatus.DRAFT
    assert search_ids("保号") == []
    kb.article_submit(actor=billing_people["writer"], version_id=v1.pk)
    approved = kb.article_approve(actor=billing_people["boss"], version_id=v1.pk, note="与资费文件一致")
    assert approved.status == VersionStatus.PUBLISHED
    assert approved.decided_by == billing_people["boss"]
    article = Article.objects.get(pk=v1.article_id)
    assert (article.published_id, article.title) == (v1.pk, "停机保号收费标准")
    assert [h.article_id for h in search_ids("保号")] == [article.pk]


def test_an_edit_is_a_new_version_and_the_history_keeps_each_approver(org, billing_people, people):
    v1 = _draft(org, billing_people)
    kb.article_submit(actor=billing_people["writer"], version_id=v1.pk)
    kb.article_approve(actor=billing_people["boss"], version_id=v1.pk)
    v2 = kb.article_draft(
        actor=billing_people["writer"],
        article_id=v1.article_id,
        title="停机保号收费标准（2027）",
        body="停机保号期间每月收取 3 元保号费。",
    )
    article = Article.objects.get(pk=v1.article_id)
    assert (v2.number, v2.status, article.published_id) == (2, VersionStatus.DRAFT, v1.pk)
    assert [h.article_id for h in search_ids("2027")] == []  # the draft is not in force
    kb.article_submit(actor=billing_people["writer"], version_id=v2.pk)
    kb.article_reject(actor=billing_people["boss"], version_id=v2.pk, note="金额待资费部门确认")
    v3 = kb.article_draft(
        actor=billing_people["writer"],
        article_id=v1.article_id,
        title="停机保号收费标准（2027）",
        body="停机保号期间每月收取 5 元保号费，2027 年起不变。",
    )
    kb.article_submit(actor=billing_people["writer"], version_id=v3.pk)
    kb.article_approve(actor=billing_people["boss"], version_id=v3.pk)
    history = [
        (v.number, v.status, v.decided_by.username if v.decided_by else None, v.decision_note)
        for v in article_history(article)
    ]
    assert history == [
        (3, "published", "kb_boss", ""),
        (2, "rejected", "kb_boss", "金额待资费部门确认"),
        (1, "superseded", "kb_boss", ""),
    ]
    article.refresh_from_db()
    assert (article.published_id, article.title) == (v3.pk, "停机保号收费标准（2027）")
    assert [h.article_id for h in search_ids("2027")] == [article.pk]


def test_only_the_owning_departments_supervisor_approves_and_never_the_author(
    org, billing_people, people, unchanged
):
    v1 = _draft(org, billing_people)
    kb.article_submit(actor=billing_people["writer"], version_id=v1.pk)
    # people["supervisor"] supervises customer service, not billing; the writer is a handler.
    for actor in (people["supervisor"], billing_people["writer"], people["agent"], people["admin"]):
        with unchanged(), pytest.raises(PermissionDenied):
            kb.article_approve(actor=actor, version_id=v1.pk)
    boss_draft = _draft(org, billing_people, actor=billing_people["boss"], title="补换卡费用")
    kb.article_submit(actor=billing_people["boss"], version_id=boss_draft.pk)
    with unchanged(), pytest.raises(PermissionDenied, match="other than its author"):
        kb.article_approve(actor=billing_people["boss"], version_id=boss_draft.pk)


def test_refused_moves_change_nothing(org, billing_people, unchanged):
    v1 = _draft(org, billing_people)
    with unchanged(), pytest.raises(InvalidTransition):
        kb.article_approve(actor=billing_people["boss"], version_id=v1.pk)  # never submitted
    kb.article_submit(actor=billing_people["writer"], version_id=v1.pk)
    with unchanged(), pytest.raises(ValidationError, match="required"):
        kb.article_reject(actor=billing_people["boss"], version_id=v1.pk, note="  ")
    with unchanged(), pytest.raises(ValidationError, match="already has a draft"):
        kb.article_draft(actor=billing_people["writer"], article_id=v1.article_id, title="x", body="y")
    with unchanged(), pytest.raises(PermissionDenied):
        _draft(
            org, billing_people, actor=billing_people["writer"], owner_department_id=org["dept"]["network"].pk
        )
    with unchanged(), pytest.raises(ValidationError, match="cannot expire"):
        _draft(org, billing_people, valid_from=date(2027, 1, 1), valid_until=date(2026, 1, 1))


def test_an_expired_article_leaves_search_and_suggestions(org, billing_people):
    today = timezone.localdate()
    old = _draft(
        org,
        billing_people,
        title="2025年流量包优惠",
        body="流量包优惠每月 10 元。",
        valid_until=today - timedelta(days=1),
    )
    new = _draft(org, billing_people, title="流量包资费说明", body="流量包优惠每月 20 元。")
    for v in (old, new):
        kb.article_submit(actor=billing_people["writer"], version_id=v.pk)
        kb.article_approve(actor=billing_people["boss"], version_id=v.pk)
    assert [h.article_id for h in search_ids("流量包优惠")] == [new.article_id]
    assert (
        next(h.article_id for h in search_ids("流量包优惠", on=today - timedelta(days=1))) == old.article_id
    )
    found = suggest_articles(text="流量包优惠为什么变了", category_id=org["wrong_charge"].pk)
    assert [s.item.pk for s in found] == [new.article_id]
    assert SearchToken.objects.filter(article_id=old.article_id).exists()  # indexed, filtered by date


def test_markdown_is_rendered_without_raw_html_or_script_links():
    html = render_markdown("**注意**<script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>注意</strong>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
