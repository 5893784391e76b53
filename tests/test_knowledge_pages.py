"""The knowledge pages and the composer's endpoints through the web client: search, article with
history, approval, insert a template (refused with the missing field), preview, send, feedback."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tousu.complaints.states import Status
from tousu.knowledge.models import Article, Feedback, ReplyTemplate
from tousu.knowledge.starter import starter_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(org):
    starter_load()


def _login(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def test_search_page_lists_ranked_articles(client, people, library):
    page = _login(client, people["agent"]).get(reverse("kb"), {"q": "停机保号"})
    assert page.status_code == 200
    text = page.content.decode()
    assert text.index("停机保号收费标准：每月5元") < text.index("停机超过90天的号码可能被回收")


def test_article_page_shows_history_and_usage_to_the_owner(client, people, library):
    article = Article.objects.get(external_ref="kb-005")  # customer service owns it
    page = _login(client, people["agent"]).get(reverse("kb-article", args=[article.pk]))
    text = page.content.decode()
    assert "投诉答复时限：15日内答复用户" in text
    assert 'id="kb-history"' in text
    assert 'id="kb-usage"' in text
    other = _login(client, people["handler_other"]).get(reverse("kb-article", args=[article.pk]))
    assert 'id="kb-usage"' not in other.content.decode()


def test_insert_refuses_a_template_with_a_missing_field_and_fills_one_that_fits(
    client, cases, people, library
):
    c = cases.make(Status.ACCEPTED)
    client = _login(client, people["agent"])
    refund = ReplyTemplate.objects.get(code="refund-sms")
    page = client.post(reverse("kb-compose-insert", args=[c.pk]), {"template": refund.pk, "text": ""})
    assert page.status_code == 200
    assert "the case lacks: the approved refund or compensation amount ({amount})" in page.content.decode()
    ack = ReplyTemplate.objects.get(code="ack-sms")
    page = client.post(reverse("kb-compose-insert", args=[c.pk]), {"template": ack.pk, "text": ""})
    assert f"张三您好，您的投诉已受理，编号{c.ticket_no}" in page.content.decode()
    ack.refresh_from_db()
    assert ack.used_count == 1


def test_preview_shows_the_exact_sms_and_its_segments(client, cases, people):
    c = cases.make(Status.ACCEPTED)
    page = _login(client, people["agent"]).post(
        reverse("kb-compose-preview", args=[c.pk]), {"mode": "message", "text": "请提供账单截图。"}
    )
    text = page.content.decode()
    body = f"【Tousu 客服】关于投诉 {c.ticket_no}：请提供账单截图。"
    assert body in text
    assert f"{len(body)} characters · 1 SMS (70 characters per SMS)" in text


def test_composer_fragment_and_send(client, cases, people, library):
    c = cases.make(Status.ACCEPTED)
    client = _login(client, people["agent"])
    page = client.get(reverse("kb-compose", args=[c.pk]))
    text = page.content.decode()
    assert 'id="composer-form"' in text
    assert 'id="kb-suggestions"' in text
    done = client.post(reverse("kb-compose-send", args=[c.pk]), {"mode": "note", "text": "已回电"})
    assert done.status_code == 302
    assert c.events.filter(kind="note_added", payload__text="已回电").count() == 1
    refused = client.post(
        reverse("kb-compose-send", args=[c.pk]), {"mode": "reply", "channel": "sms", "text": "x"}
    )
    assert refused.status_code == 302  # 'accepted' cannot be replied to without a first-contact resolution
    c.refresh_from_db()
    assert c.status == Status.ACCEPTED


def test_feedback_counts_per_article_once_per_agent(client, cases, people, library):
    c = cases.make(Status.ACCEPTED)
    article = Article.objects.get(external_ref="kb-014")
    client = _login(client, people["agent"])
    url = reverse("kb-compose-feedback", args=[c.pk])
    for useful in ("1", "1", "0"):
        assert client.post(url, {"article": article.pk, "useful": useful}).status_code == 200
    article.refresh_from_db()
    assert (article.useful_count, article.not_useful_count) == (0, 1)
    assert Feedback.objects.filter(article=article).count() == 1


def test_the_auditor_cannot_open_the_composer(client, cases, people):
    c = cases.make(Status.ACCEPTED)
    page = _login(client, people["auditor"]).get(reverse("kb-compose", args=[c.pk]))
    assert page.status_code == 403
