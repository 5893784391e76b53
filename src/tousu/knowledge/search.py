"""Search over published articles: one token table (``SearchToken``) on both databases, so SQLite
and PostgreSQL rank alike and no extension is needed (docs/adr/0020).

Indexing writes the terms of the published version (``text.field_terms``: jieba words, character
bigrams, word pinyin, title initials) with the field's weight. A query is turned into terms
(``text.query_terms``, synonyms included), each weighted by its rarity (idf), and one indexed
``GROUP BY`` adds up the matches per article."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.utils import timezone

from tousu.knowledge.models import Article, ArticleVersion, SearchToken, Synonym
from tousu.knowledge.text import BODY, TAGS, TITLE, field_terms, query_terms

MAX_QUERY_TERMS = 24
COMMON_FLOOR = 50
COMMON_SHARE = 0.05


def version_terms(version: ArticleVersion) -> dict[str, float]:
    """The index terms of one version, best weight per term."""
    terms: dict[str, float] = {}
    for text, weight, title in (
        (version.title, TITLE, True),
        (version.tags.replace(",", " "), TAGS, False),
        (version.body, BODY, False),
    ):
        for term, w in field_terms(text, weight, title=title).items():
            if w > terms.get(term, 0.0):
                terms[term] = w
    return terms


def index_article(article: Article) -> int:
    """Rebuild the article's index rows from its published version (none when unpublished)."""
    SearchToken.objects.filter(article=article).delete()
    if article.published is None:
        return 0
    rows = [
        SearchToken(article=article, token=term, weight=weight)
        for term, weight in version_terms(article.published).items()
    ]
    SearchToken.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def synonym_map() -> dict[str, list[str]]:
    """Each word of the synonym table → the other words of its groups."""
    result: dict[str, list[str]] = {}
    for group in Synonym.objects.all():
        words = group.word_list()
        for word in words:
            result.setdefault(word, []).extend(w for w in words if w != word)
    return result


@dataclass(frozen=True)
class Hit:
    article_id: int
    score: float


def search_ids(
    query: str,
    *,
    limit: int = 20,
    on: date | None = None,
    synonyms: dict[str, list[str]] | None = None,
) -> list[Hit]:
    """Published articles valid on ``on`` (default today) that match ``query``, best first."""
    terms = query_terms(query, synonym_map() if synonyms is None else synonyms)
    if not terms:
        return []
    table = SearchToken._meta.db_table
    marks = ", ".join(["%s"] * len(terms))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT token, COUNT(*) FROM {table} WHERE token IN ({marks}) GROUP BY token", list(terms)
        )
        df = dict(cursor.fetchall())
    if not df:
        return []
    total = Article.objects.filter(published__isnull=False).count() or 1
    # Terms in more than a few per cent of the articles say little and cost the most: left out,
    # unless nothing rarer matched. Then the most telling terms (factor × idf) are summed.
    common = max(COMMON_FLOOR, total * COMMON_SHARE)
    rare = {t: n for t, n in df.items() if n <= common} or dict(sorted(df.items(), key=lambda kv: kv[1])[:3])
    factors = {t: terms[t] * math.log(1 + total / n) for t, n in rare.items()}
    factors = dict(sorted(factors.items(), key=lambda kv: -kv[1])[:MAX_QUERY_TERMS])
    when = " ".join(["WHEN %s THEN %s"] * len(factors))
    params: list[object] = []
    for term, factor in factors.items():
        params += [term, factor]
    on = on or timezone.localdate()
    article = Article._meta.db_table
    term_marks = ", ".join(["%s"] * len(factors))
    sql = (
        f"SELECT t.article_id, SUM(t.weight * CASE t.token {when} ELSE 0 END) AS score "
        f"FROM {table} t JOIN {article} a ON a.id = t.article_id "
        f"WHERE t.token IN ({term_marks}) "
        "AND (a.valid_from IS NULL OR a.valid_from <= %s) AND (a.valid_until IS NULL OR a.valid_until >= %s) "
        "GROUP BY t.article_id ORDER BY score DESC, t.article_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *factors, on, on, limit])  # type: ignore[list-item]
        return [Hit(int(pk), float(score)) for pk, score in cursor.fetchall()]
