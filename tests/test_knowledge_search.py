"""Chinese search over the knowledge base: words (jieba), synonyms from the table, pinyin initials
of titles, typo tolerance and ranking; the starter set loads through the services."""

from __future__ import annotations

import pytest

from tousu.knowledge.models import Article, ReplyTemplate, Synonym
from tousu.knowledge.search import search_ids
from tousu.knowledge.starter import starter_load
from tousu.ops.seed import seed_reference

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(db):
    seed_reference()
    starter_load()
    return {a.external_ref: a.pk for a in Article.objects.all()}


def _top(query: str, library: dict[str, int], n: int = 3) -> list[str]:
    refs = {pk: ref for ref, pk in library.items()}
    return [refs[h.article_id] for h in search_ids(query, limit=n)]


def test_the_starter_set_has_60_articles_40_templates_and_loads_twice_without_change(library):
    assert Article.objects.filter(published__isnull=False).count() == 63
    assert ReplyTemplate.objects.count() == 45
    again = starter_load()
    assert (again["articles_changed"], again["synonyms"]) == (0, 0)
    assert Article.objects.count() == 63
    assert Synonym.objects.filter(words="扣费=收费=计费=扣钱").exists()


def test_words_find_the_policy_first(library):
    assert _top("停机保号每月多少钱", library, 1) == ["kb-002"]
    assert _top("详单能查几个月", library, 1) == ["kb-003"]
    assert _top("掉话率标准", library, 1) == ["kb-004"]
    assert _top("携号转网条件", library, 1) == ["kb-009"]


def test_synonyms_from_the_table_widen_the_query(library):
    # No article says "扣钱"; the synonym table says 扣费=收费=计费=扣钱.
    assert _top("扣钱", library, 2) == ["kb-014", "kb-060"]  # 增值业务扣费…不得收费, 重复扣费的核查
    Synonym.objects.filter(words__contains="扣钱").delete()
    assert search_ids("扣钱") == []


def test_pinyin_initials_of_a_title(library):
    assert _top("tjbh", library, 1) == ["kb-002"]  # 停机保号…
    assert _top("xhzw", library, 2)[0] in {"kb-009", "kb-010"}  # 携号转网…


def test_a_typo_still_finds_the_article(library):
    assert _top("停机保好收费", library, 1) == ["kb-002"]  # 好 for 号: same pinyin, shared bigrams
    assert _top("携号转往", library, 2)[0] in {"kb-009", "kb-010"}


def test_nothing_matches_nonsense(library):
    assert search_ids("zzzzqqq") == []
    assert search_ids("   ") == []
