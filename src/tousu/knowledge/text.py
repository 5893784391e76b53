"""Text helpers of the knowledge base: Chinese terms for search (jieba words, character bigrams,
pinyin), safe Markdown, excerpts, and the SMS length rule. Pure functions, no ORM."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass

from markdown_it import MarkdownIt

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z]+|[\u3400-\u9fff\uf900-\ufaff]+")
_LETTERS = re.compile(r"^[a-z]+$")

TITLE, TAGS, BODY = 3.0, 2.0, 1.0
MAX_TOKEN = 64
INITIALS_MIN = 2
INITIALS_MAX = 12


@functools.cache
def _jieba():  # type: ignore[no-untyped-def,unused-ignore]
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba


@functools.cache
def _pinyin():  # type: ignore[no-untyped-def,unused-ignore]
    import pypinyin

    return pypinyin


def normalize(text: str) -> str:
    """Full-width forms folded (ＡＢＣ → abc), lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


def words(text: str) -> list[str]:
    """jieba's search-mode words of ``text`` that carry meaning (CJK or alphanumeric, no punctuation)."""
    found = []
    for word in _jieba().lcut_for_search(normalize(text)):
        word = word.strip()
        if word and _WORD.fullmatch(word) and (len(word) > 1 or not word.isascii()):
            found.append(word)
    return found


def bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each run of Chinese characters: a typo costs two of them, not the match."""
    pairs: list[str] = []
    for run in _CJK.findall(normalize(text)):
        pairs.extend(run[i : i + 2] for i in range(len(run) - 1))
    return pairs


@functools.lru_cache(maxsize=50_000)
def pinyin(word: str) -> str:
    """Toneless pinyin of a Chinese word (扣费 → koufei): homophone typos (扣废) still match."""
    return "".join(_pinyin().lazy_pinyin(word, errors="ignore"))


def initials(text: str) -> str:
    """First letters of the pinyin of ``text``'s Chinese characters (停机保号 → tjbh)."""
    chars = "".join(_CJK.findall(normalize(text)))
    return "".join(_pinyin().lazy_pinyin(chars, style=_pinyin().Style.FIRST_LETTER, errors="ignore"))


def field_terms(text: str, weight: float, *, title: bool = False) -> dict[str, float]:
    """The index terms of one field with their weights: words, bigrams, word pinyin; for a title
    also the prefixes of its pinyin initials (``in:tjbh``)."""
    terms: dict[str, float] = {}

    def add(term: str, w: float) -> None:
        term = term[:MAX_TOKEN]
        if w > terms.get(term, 0.0):
            terms[term] = w

    for word in words(text):
        add(word, weight)
        if _CJK.fullmatch(word) and len(word) > 1:
            add("py:" + pinyin(word), weight * 0.6)
    for pair in bigrams(text):
        add(pair, weight * 0.5)
    if title:
        letters = initials(text)
        for end in range(INITIALS_MIN, min(len(letters), INITIALS_MAX) + 1):
            add("in:" + letters[:end], weight * 0.8)
    return terms


def query_terms(query: str, synonyms: dict[str, list[str]]) -> dict[str, float]:
    """What a query looks for, with a factor per term: its words and bigrams (1.0), their pinyin
    (0.6: a homophone typo), synonyms of its words (0.8), and pinyin initials or full pinyin when
    it is typed in Latin letters (``tjbh``, ``tingji``)."""
    query = normalize(query).strip()
    terms: dict[str, float] = {}

    def add(term: str, factor: float) -> None:
        term = term[:MAX_TOKEN]
        if factor > terms.get(term, 0.0):
            terms[term] = factor

    compact = query.replace(" ", "")
    if compact and _LETTERS.match(compact):
        add("in:" + compact[:INITIALS_MAX], 1.0)
        add("py:" + compact, 1.0)
        add(compact, 1.0)
        return terms
    for word in words(query):
        add(word, 1.0)
        if _CJK.fullmatch(word) and len(word) > 1:
            add("py:" + pinyin(word), 0.6)
        for other in synonyms.get(word, []):
            add(other, 0.8)
            for pair in bigrams(other):
                add(pair, 0.4)
    for pair in bigrams(query):
        add(pair, 0.5)
    return terms


# -- Markdown ---------------------------------------------------------------------------------------
@functools.cache
def _markdown() -> MarkdownIt:
    # Raw HTML is not passed through (it is escaped) and markdown-it refuses javascript:/data: links.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def render_markdown(body: str) -> str:
    """The article's Markdown as HTML that is safe to show (no raw HTML, no script links, no images)."""
    return _markdown().render(body or "")


_MD_MARKS = re.compile(r"(^|\n)\s{0,3}(#{1,6}\s+|[-*+]\s+|\d+\.\s+|>\s*)|[*_`]+")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def plain_text(body: str) -> str:
    """Markdown without its marks, for excerpts and message text."""
    text = _MD_LINK.sub(r"\1", body or "")
    return _MD_MARKS.sub(lambda m: m.group(1) or "", text).strip()


def excerpt(body: str, limit: int = 200) -> str:
    """The first paragraph of the article as plain text, at most ``limit`` characters."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body or "") if p.strip()]
    first = next(
        (p for p in paragraphs if not p.lstrip().startswith("#")), paragraphs[0] if paragraphs else ""
    )
    text = " ".join(plain_text(first).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- SMS --------------------------------------------------------------------------------------------
# GSM 03.38 basic alphabet (one septet each) and its extension table (two septets each).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsCount:
    """How an SMS text travels: its length in the units of its encoding and the number of segments."""

    encoding: str  # "gsm7" or "ucs2"
    length: int
    segments: int
    per_segment: int  # characters a segment holds at this length (70/67 or 160/153)


def sms_count(text: str) -> SmsCount:
    """The rule (docs/adr/0020): text wholly in the GSM 7-bit alphabet takes 160 characters in one
    message, 153 per segment when split; any other character (Chinese) makes the message UCS-2:
    70 characters in one message, 67 per segment when split (the other 3 carry the concatenation
    header). Characters outside the Basic Multilingual Plane (emoji) count twice in UCS-2."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        length = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, "gsm7"
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "ucs2"
    if length <= single:
        return SmsCount(encoding, length, 1 if length else 0, single)
    return SmsCount(encoding, length, math.ceil(length / multi), multi)
