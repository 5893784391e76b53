"""Keeping the rollups current: the event-log consumer the worker runs, and the full rebuild.

Both rewrite whole cases: for every case an event touched, its ``CaseFact`` rows are computed
again from the case as it is now (``tousu.analytics.facts``), the old rows are replaced, and the
difference is added to the ``DailyRollup`` buckets. Applying a case twice changes nothing, so the
consumer may read an event again without counting it twice, and the cursor, the facts and the
rollups commit in one transaction (a worker that dies mid-batch leaves all three as they were).

Event ids are taken before commit, so they commit out of order: an id below the cursor can still
appear. The cursor keeps the ids it skipped over (``gaps``) and looks for them again on every
batch until they appear or are older than ``TOUSU_ANALYTICS_GAP_SECONDS`` (a transaction that
never committed). See docs/adr/0019-analytics-rollups.md.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import Region
from tousu.analytics.facts import _Calendars, cases_facts, customers_cases
from tousu.analytics.models import (
    BUCKET_FIELDS,
    FACT_FIELDS,
    CaseFact,
    DailyRollup,
    EventCursor,
    HotlineFigure,
    SubscriberCount,
)
from tousu.common.errors import ValidationError
from tousu.complaints.models import Complaint, ComplaintEvent

CONSUMER = "analytics"
Key = tuple[Any, ...]


def _batch_size() -> int:
    return int(getattr(settings, "TOUSU_ANALYTICS_BATCH", 2000))


def _gap_horizon() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "TOUSU_ANALYTICS_GAP_SECONDS", 600)))


def _key(row: CaseFact | DailyRollup) -> Key:
    return tuple(getattr(row, f) for f in BUCKET_FIELDS)


def _sums(rows: Iterable[CaseFact]) -> dict[Key, dict[str, int]]:
    out: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FACT_FIELDS, 0))
    for row in rows:
        bucket = out[_key(row)]
        for f in FACT_FIELDS:
            bucket[f] += getattr(row, f)
    return out


def _apply_delta(delta: dict[Key, dict[str, int]]) -> None:
    """Add ``delta`` to the rollup buckets; a bucket whose facts all reach zero is deleted."""
    delta = {k: v for k, v in delta.items() if any(v.values())}
    if not delta:
        return
    existing = {
        _key(row): row
        for row in DailyRollup.objects.filter(
            day__in={k[0] for k in delta}, category_id__in={k[2] for k in delta}
        ).select_for_update()
        if _key(row) in delta
    }
    changed: list[DailyRollup] = []
    created: list[DailyRollup] = []
    emptied: list[DailyRollup] = []
    for key, values in delta.items():
        row = existing.get(key)
        if row is None:
            row = DailyRollup(**dict(zip(BUCKET_FIELDS, key, strict=True)), **values)
            created.append(row)
            continue
        for f, v in values.items():
            setattr(row, f, getattr(row, f) + v)
        (emptied if not any(getattr(row, f) for f in FACT_FIELDS) else changed).append(row)
    if emptied:
        DailyRollup.objects.filter(pk__in=[r.pk for r in emptied]).delete()
    if changed:
        DailyRollup.objects.bulk_update(changed, list(FACT_FIELDS), batch_size=500)
    if created:
        DailyRollup.objects.bulk_create(created, batch_size=500)


def rollup_apply_cases(complaint_ids: Iterable[int], *, calendars: _Calendars | None = None) -> int:
    """Recompute the facts of these cases (and of their customers' other cases) and move the
    rollups by the difference. Part of the caller's transaction. Returns how many cases."""
    ids = customers_cases(complaint_ids)
    if not ids:
        return 0
    old = list(CaseFact.objects.filter(complaint_id__in=ids))
    new = cases_facts(ids, calendars=calendars)
    delta = _sums(new)
    for key, values in _sums(old).items():
        bucket = delta.setdefault(key, dict.fromkeys(FACT_FIELDS, 0))
        for f, v in values.items():
            bucket[f] -= v
    CaseFact.objects.filter(complaint_id__in=ids).delete()
    CaseFact.objects.bulk_create(new, batch_size=1000)
    _apply_delta(delta)
    return len(ids)


def _cursor_locked() -> EventCursor:
    EventCursor.objects.get_or_create(consumer=CONSUMER)
    return EventCursor.objects.select_for_update().get(consumer=CONSUMER)


@transaction.atomic
def analytics_consume(*, limit: int | None = None, now: datetime | None = None) -> int:
    """Read the next events after the cursor (and any earlier ones that appeared since), apply
    their cases to the rollups, and move the cursor, all in one transaction. Returns how many
    events were read. Run by the worker; several workers queue on the cursor row."""
    now = now or timezone.now()
    cursor = _cursor_locked()
    limit = limit or _batch_size()
    fresh = list(
        ComplaintEvent.objects.filter(pk__gt=cursor.last_id)
        .order_by("pk")
        .values_list("pk", "complaint_id", "created_at")[:limit]
    )
    gaps: dict[int, str] = {int(i): seen for i, seen in cursor.gaps}
    late = (
        list(ComplaintEvent.objects.filter(pk__in=list(gaps)).values_list("pk", "complaint_id"))
        if gaps
        else []
    )
    for pk, _cid in late:
        gaps.pop(pk, None)
    horizon = (now - _gap_horizon()).isoformat()
    gaps = {i: seen for i, seen in gaps.items() if seen >= horizon}
    # An id skipped over may still commit, unless the event after it is older than the horizon
    # (its transaction would have been running that long).
    stamp, previous = now.isoformat(), cursor.last_id
    for pk, _cid, created_at in fresh:
        if previous and pk > previous + 1 and created_at >= now - _gap_horizon():  # not before the first
            gaps.update(dict.fromkeys(range(previous + 1, pk), stamp))
        previous = pk
    cursor.last_id = previous
    touched = {cid for _, cid, _at in fresh} | {cid for _, cid in late}
    rollup_apply_cases(touched)
    cursor.gaps = [[i, seen] for i, seen in sorted(gaps.items())]
    cursor.updated_at = now
    cursor.save(update_fields=["last_id", "gaps", "updated_at"])
    return len(fresh) + len(late)


def analytics_rebuild(*, chunk: int = 2000, progress: Callable[[int, int], Any] | None = None) -> int:
    """Recompute every case's facts and every rollup from scratch, in one transaction (the worker's
    consumer waits on the cursor meanwhile). The cursor is set to the newest event seen before the
    cases are read; recent ids not seen yet are kept as gaps. Returns how many cases."""
    with transaction.atomic():
        cursor = _cursor_locked()
        now = timezone.now()
        last = ComplaintEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        recent = sorted(
            ComplaintEvent.objects.filter(created_at__gte=now - _gap_horizon(), pk__lte=last).values_list(
                "pk", flat=True
            )
        )
        stamp = now.isoformat()
        seen = set(recent)
        gaps = [[i, stamp] for i in range(recent[0], last) if i not in seen] if recent else []
        CaseFact.objects.all().delete()
        DailyRollup.objects.all().delete()
        ids = list(Complaint.objects.order_by("pk").values_list("pk", flat=True))
        calendars = _Calendars()
        for start in range(0, len(ids), chunk):
            CaseFact.objects.bulk_create(
                cases_facts(ids[start : start + chunk], calendars=calendars), batch_size=1000
            )
            if progress:
                progress(min(start + chunk, len(ids)), len(ids))
        sums = (
            CaseFact.objects.values(*BUCKET_FIELDS)
            .order_by()
            .annotate(**{f"sum_{f}": _sum(f) for f in FACT_FIELDS})
        )
        rows = []
        for row in sums.iterator(chunk_size=5000):
            rows.append(
                DailyRollup(**{f: row[f] for f in BUCKET_FIELDS}, **{f: row[f"sum_{f}"] for f in FACT_FIELDS})
            )
            if len(rows) >= 5000:
                DailyRollup.objects.bulk_create(rows)
                rows = []
        DailyRollup.objects.bulk_create(rows)
        cursor.last_id = last
        cursor.gaps = gaps
        cursor.updated_at = now
        cursor.save(update_fields=["last_id", "gaps", "updated_at"])
    return len(ids)


def _sum(field: str) -> Sum:
    return Sum(field)


def _csv_rows(text: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise ValidationError(_("The file has no rows."), fields={"file": "empty"})
    missing = [c for c in columns if c not in (rows[0].keys() if rows else ())]
    if missing:
        raise ValidationError(
            _("The file needs the columns %(columns)s.") % {"columns": ", ".join(columns)},
            fields={"file": "columns"},
        )
    return rows


def _positive(value: str, line: int, column: str) -> int:
    try:
        number = int(value.strip().replace(",", ""))
    except ValueError:
        number = -1
    if number < 0:
        raise ValidationError(
            _("Line %(line)s: %(column)s must be a whole number ≥ 0, not “%(value)s”.")
            % {"line": line, "column": column, "value": value},
            fields={"file": f"line {line}"},
        )
    return number


@transaction.atomic
def subscribers_import(*, text: str) -> int:
    """Load subscriber counts from CSV (``region,month,subscribers``; region by code, month as
    ``YYYY-MM``). Every line is checked before any is written; a (region, month) already present
    is replaced. Returns how many rows."""
    regions = dict(Region.objects.values_list("code", "pk"))
    parsed = []
    for n, row in enumerate(_csv_rows(text, ("region", "month", "subscribers")), start=2):
        code = (row["region"] or "").strip()
        if code not in regions:
            raise ValidationError(
                _("Line %(line)s: no region with the code “%(code)s”.") % {"line": n, "code": code},
                fields={"file": f"line {n}"},
            )
        try:
            month = date.fromisoformat(f"{(row['month'] or '').strip()[:7]}-01")
        except ValueError:
            raise ValidationError(
                _("Line %(line)s: write the month as YYYY-MM.") % {"line": n}, fields={"file": f"line {n}"}
            ) from None
        parsed.append((regions[code], month, _positive(row["subscribers"] or "", n, "subscribers")))
    for region_id, month, subscribers in parsed:
        SubscriberCount.objects.update_or_create(
            region_id=region_id, month=month, defaults={"subscribers": subscribers}
        )
    return len(parsed)


@transaction.atomic
def hotline_import(*, text: str) -> int:
    """Load the call centre's daily figures from CSV (``day,calls_offered,calls_answered``).
    Every line is checked before any is written; a day already present is replaced."""
    parsed = []
    for n, row in enumerate(_csv_rows(text, ("day", "calls_offered", "calls_answered")), start=2):
        try:
            day = date.fromisoformat((row["day"] or "").strip())
        except ValueError:
            raise ValidationError(
                _("Line %(line)s: write the day as YYYY-MM-DD.") % {"line": n}, fields={"file": f"line {n}"}
            ) from None
        offered = _positive(row["calls_offered"] or "", n, "calls_offered")
        answered = _positive(row["calls_answered"] or "", n, "calls_answered")
        if answered > offered:
            raise ValidationError(
                _("Line %(line)s: more calls answered than offered.") % {"line": n},
                fields={"file": f"line {n}"},
            )
        parsed.append((day, offered, answered))
    for day, offered, answered in parsed:
        HotlineFigure.objects.update_or_create(
            day=day, defaults={"calls_offered": offered, "calls_answered": answered}
        )
    return len(parsed)


def analytics_seed_demo(*, today: date, months: int = 13) -> None:
    """Demo subscriber counts for every region over the past ``months`` months and hotline figures
    for the past year (idempotent: rows already present are left alone)."""
    for region in Region.objects.order_by("pk"):
        base = (300_000 if region.is_rural else 1_200_000) + (region.pk * 37_813) % 400_000
        month = today.replace(day=1)
        for n in range(months):
            SubscriberCount.objects.get_or_create(
                region=region, month=month, defaults={"subscribers": base + 1_500 * (months - n)}
            )
            month = (month - timedelta(days=1)).replace(day=1)
    existing = set(
        HotlineFigure.objects.filter(day__gt=today - timedelta(days=366)).values_list("day", flat=True)
    )
    rows = []
    for n in range(1, 366):
        day = today - timedelta(days=n)
        if day not in existing:
            offered = 4_000 + (day.toordinal() * 7_919) % 1_500 - (1_200 if day.weekday() >= 5 else 0)
            rows.append(HotlineFigure(day=day, calls_offered=offered, calls_answered=offered * 93 // 100))
    HotlineFigure.objects.bulk_create(rows)
