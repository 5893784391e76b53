"""Search of case descriptions by words, Chinese included.

Chinese is written without spaces, so "words" are substrings: a case matches when its description
contains every word typed (case-insensitive). That is what ``description__icontains`` says, and
SQLite (the demo database) does exactly that. On PostgreSQL a scan of every description is too
slow at a million cases, so the description also has a GIN index over its character bigrams:

* ``tousu_bigrams(text)`` (an IMMUTABLE SQL function, migration 0004) turns ``账单中`` into
  ``账单 单中 中``: the two characters starting at each position (the last one alone);
* the index is on ``to_tsvector('simple', tousu_bigrams(description))``;
* a word of two or more characters must have all its bigrams (``plainto_tsquery``: AND), a word of
  one character must start one of them (a prefix query, ``'卡':*``).

Every string that contains the word has those bigrams, so the index never loses a match; some
descriptions have the bigrams without the word (``账单`` and ``单中`` apart), so the index is only
the first filter and a substring test on its candidates keeps the answer exact.
"""

from __future__ import annotations

import re
from typing import Any, Final

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, F, Func, Q, Value
from django.db.models.functions import Lower
from django.db.models.sql.compiler import SQLCompiler

from tousu.accounts.models import User
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.origin import Origin
from tousu.complaints.models import Category, Complaint
from tousu.customers.models import Customer

MIN_TICKET_DIGITS: Final = 8  # a ticket number typed without "TS": at least its date

# The function and the index (created by migration 0004 on PostgreSQL only). The index expression
# and the one ``BigramMatch`` writes must stay identical, or PostgreSQL will not use the index.
BIGRAMS_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION tousu_bigrams(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT string_agg(substr(value, i, 2), ' ') FROM generate_series(1, char_length(value)) AS i $$
"""
DESCRIPTION_INDEX = "complaint_description_bigram_idx"
DESCRIPTION_VECTOR_SQL = "to_tsvector('simple'::regconfig, tousu_bigrams({column}))"


def bigrams(word: str) -> list[str]:
    """``"账单中"`` → ``["账单", "单中"]``: what a description holding the word must hold."""
    return [word[i : i + 2] for i in range(len(word) - 1)]


def _tsquery_literal(char: str) -> str:
    return "'" + char.replace("\\", "\\\\").replace("'", "''") + "'"


class BigramMatch(Func):
    """The description may contain every one of ``words`` (PostgreSQL; answered by the GIN index).

    ``words`` are runs of letters and digits: the text-search parser keeps each pair of them as
    one token or splits it the same way in the query as in the description."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, words: list[str]) -> None:
        super().__init__(F("description"))
        pairs = [pair for word in words for pair in bigrams(word)]
        self.pairs = " ".join(dict.fromkeys(pairs))
        singles = [w for w in words if len(w) == 1 and (w.isalpha() or w.isdigit())]
        self.prefixes = " & ".join(f"{_tsquery_literal(w)}:*" for w in dict.fromkeys(singles))

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        queries: list[str] = []
        params = list(params)
        if self.pairs:
            queries.append("plainto_tsquery('simple'::regconfig, %s)")
            params.append(self.pairs)
        if self.prefixes:
            queries.append("to_tsquery('simple'::regconfig, %s)")
            params.append(self.prefixes)
        if not queries:  # nothing the index can answer: no narrowing (icontains decides)
            return "TRUE", []
        vector = DESCRIPTION_VECTOR_SQL.format(column=column)
        return f"{vector} @@ ({' && '.join(queries)})", params


class _Contains(Func):
    """``strpos(text, word) <> 0``: ``text`` contains ``word``.

    The same test as ``ILIKE '%word%'``, written so that PostgreSQL estimates it to keep nearly
    every row (``<>`` of an expression without statistics): the index's estimate of the matches,
    measured from the data, then decides the plan. With ILIKE's made-up selectivity multiplied in,
    the planner took a frequent word (账单, 90,000 cases) for a rare one and sorted every match
    instead of walking the deadline index, and ``> 0`` (a third) made it walk the index for a rare
    word (彩铃, 4,000 cases) through hundreds of thousands of cases."""

    function = "strpos"
    template = "%(function)s(%(expressions)s) <> 0"
    output_field = BooleanField()
    conditional = True


_RUNS = re.compile(r"[^\W_]+")


def description_q(text: str, *, use_index: bool = True) -> Q:
    """Cases whose description contains every whitespace-separated word of ``text``.

    ``use_index=False``: the exact test alone, for walking the cases in another index's order when
    the words are known to be frequent (see ``tousu.complaints.queues.complaint_queue_page``)."""
    words = text.split()
    if connection.vendor != "postgresql":
        exact = Q()
        for word in words:
            exact &= Q(description__icontains=word)
        return exact
    exact = Q()
    for word in words:
        exact &= Q(_Contains(Lower("description"), Lower(Value(word))))
    runs = [run for word in words for run in _RUNS.findall(word)]
    if not runs or not use_index:
        return exact
    return Q(BigramMatch(runs)) & exact


# --- identifiers: case ids, ticket numbers without "TS", the last digits of a phone ---------------
# Phone tails are answered through an index over the reversed number on PostgreSQL (migration
# customers 0002 and complaints 0009: ``reverse(column) text_pattern_ops``), read as "the reversed
# number starts with the reversed digits"; SQLite (the demo database) scans with ``LIKE '%digits'``.

CASE_ID_RE: Final = re.compile(r"^#(\d{1,18})$")
DIGITS_RE: Final = re.compile(r"^\d[\d\s\-]*$")
MIN_TAIL: Final = 4  # fewer digits than this say nothing about a phone
MAX_TAIL: Final = 11  # a whole Chinese mobile number
TAIL_MATCH_CAP: Final = 2000  # customers or cases a tail may name before the search is too vague


def case_id(text: str) -> int | None:
    """``#123`` → ``123``."""
    match = CASE_ID_RE.match(text.strip())
    return int(match.group(1)) if match else None


def digits_only(text: str) -> str | None:
    """``"5678"``, ``"5 678"`` → ``"5678"``; ``None`` when ``text`` is not a run of digits."""
    text = text.strip()
    if not DIGITS_RE.match(text):
        return None
    return re.sub(r"[\s\-]", "", text)


def phone_tail(text: str) -> str | None:
    """The digits when ``text`` may be the end of a phone or service number (4 to 11 digits)."""
    digits = digits_only(text)
    if digits is None or not MIN_TAIL <= len(digits) <= MAX_TAIL:
        return None
    return digits


def _reversed_starts_with(column: str, digits: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(_ReversedStartsWith(F(column), Value(digits[::-1])))
    return Q(**{f"{column}__endswith": digits})


class _ReversedStartsWith(Func):
    """``reverse(column) LIKE 'reversed%'`` (PostgreSQL): answered by the ``text_pattern_ops``
    index over ``reverse(column)``; the pattern's ``%``, ``_`` and ``\\`` cannot occur in digits."""

    template = "reverse(%(expressions)s)"
    output_field = BooleanField()
    conditional = True

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        value = self.source_expressions[1].value  # type: ignore[attr-defined]
        return f"reverse({column}) LIKE %s", [*params, f"{value}%"]


def phone_tail_q(digits: str) -> Q:
    """Cases whose customer's phone or whose service number ends with ``digits``. The customers and
    cases are looked up first, each through its own index (a few rows for 4+ digits); more than
    ``TAIL_MATCH_CAP`` of either are cut there (the caller narrows by its scope afterwards)."""
    customers = list(
        Customer.objects.filter(_reversed_starts_with("phone", digits)).values_list("pk", flat=True)[
            :TAIL_MATCH_CAP
        ]
    )
    cases = list(
        Complaint.objects.filter(_reversed_starts_with("service_number", digits)).values_list(
            "pk", flat=True
        )[:TAIL_MATCH_CAP]
    )
    return Q(customer_id__in=customers) | Q(pk__in=cases)


def customer_name_q(text: str) -> Q:
    """Cases of customers named exactly ``text``: a subquery (no query of its own) answered by the
    name's index, whose statistics give PostgreSQL a true estimate."""
    return Q(customer_id__in=Customer.objects.filter(name=text).values("pk"))


def phone_tail_search_record(*, actor: User, text: str, found: int, origin: Origin) -> bool:
    """Audit a search by the last digits of a phone as a reveal (``personal_data.revealed``): the
    digits were matched against every customer's whole number. Returns whether ``text`` was one."""
    digits = digits_only(text)
    if digits is None or phone_tail(digits) is None:
        return False
    audit_record(
        actor=actor,
        kind=AuditKind.PERSONAL_DATA_REVEALED,
        object_type="search",
        object_id=actor.pk,
        field="phone_tail",
        origin=origin,
        payload={"digits": digits, "found": found},
    )
    return True


# --- the category picker ---------------------------------------------------------------------------


def category_matches(text: str, *, limit: int) -> list[Category]:
    """Active leaf categories for what an agent typed, best first:

    1. its own name, English name or code contains the text (``错收``, ``outage``);
    2. one of its synonyms contains the text, or the text contains a synonym (``扣费`` → 错收,
       高额账单; ``乱扣费了`` → the same);
    3. the text contains its name (a sentence naming it: ``话费错收了``);
    4. its parent's name, English name or code contains the text (``资费``, ``billing``).

    The leaves and their synonyms are a few hundred rows at most: read at once (two queries) and
    matched here, case-insensitively, each group in the categories' own order."""
    needle = text.strip().lower()
    if not needle:
        return []
    leaves = list(
        Category.objects.filter(is_active=True, parent__isnull=False)
        .select_related("parent")
        .prefetch_related("synonyms")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )

    def rank(category: Category) -> int | None:
        own = [category.name.lower(), category.name_en.lower(), category.code.lower()]
        if any(needle in value for value in own if value):
            return 0
        words = [s.word.lower() for s in category.synonyms.all()]
        if any(needle in word or word in needle for word in words if word):
            return 1
        if category.name and category.name.lower() in needle:
            return 2
        parent = category.parent
        assert parent is not None
        if any(
            needle in value
            for value in (parent.name.lower(), parent.name_en.lower(), parent.code.lower())
            if value
        ):
            return 3
        return None

    ranked = [(r, i, c) for i, c in enumerate(leaves) if (r := rank(c)) is not None]
    return [c for _r, _i, c in sorted(ranked, key=lambda t: (t[0], t[1]))][:limit]
