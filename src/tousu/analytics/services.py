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
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import Region
from tousu.analytics.facts import _Calendars, cases_facts, customers_cases
from tousu.analytics.models import (
    BUCKET_FIELDS,
    DAY,
    FACT_FIELDS,
    MONTH,
    SLICE_DIMENSIONS,
    SLICE_FIELDS,
    CaseFact,
    DailyRollup,
    EventCursor,
    HotlineFigure,
    SliceRollup,
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


def _slices(delta: dict[Key, dict[str, int]]) -> dict[Key, list[int]]:
    """The differences of the slice rollups (``SliceRollup``) that follow from ``delta``: every
    bucket counts, per day and per month, in the total and once per dimension value."""
    out: dict[Key, list[int]] = {}
    width = len(FACT_FIELDS)
    positions = [(dim, BUCKET_FIELDS.index(dim)) for dim in SLICE_DIMENSIONS if dim]
    for key, values in delta.items():
        day: date = key[0]
        # Few of the facts move at once: add only those.
        moved = [(n, values[f]) for n, f in enumerate(FACT_FIELDS) if values[f]]
        if not moved:
            continue
        for grain, start in ((DAY, day), (MONTH, day.replace(day=1))):
            for slice_key in [(grain, "", "", start)] + [
                (grain, d, str(key[i]), start) for d, i in positions
            ]:
                row = out.get(slice_key)
                if row is None:
                    row = out[slice_key] = [0] * width
                for n, v in moved:
                    row[n] += v
    return out


def _upsert(
    model: type[DailyRollup] | type[SliceRollup], keys: tuple[str, ...], rows: dict[Key, list[int]]
) -> None:
    """Add the facts of ``rows`` (key → facts in ``FACT_FIELDS`` order) to ``model``'s rows, in
    bulk (``INSERT … ON CONFLICT DO UPDATE SET f = f + excluded.f``: PostgreSQL and SQLite), then
    delete those rows whose facts all reached zero (only a row that was subtracted from can)."""
    rows = {k: v for k, v in rows.items() if any(v)}
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = [*keys, *FACT_FIELDS]
    conflict = ", ".join(qn(k) for k in keys)
    updates = ", ".join(f"{qn(f)} = {table}.{qn(f)} + EXCLUDED.{qn(f)}" for f in FACT_FIELDS)
    names = ", ".join(qn(c) for c in columns)
    data = [(*key, *facts) for key, facts in sorted(rows.items())]  # in key order: no deadlocks
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY the differences into a scratch table, then one INSERT … SELECT … ON CONFLICT.
            scratch = qn(f"{model._meta.db_table}_delta")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS AS "
                f"SELECT {names} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"DELETE FROM {scratch}")
            with cursor.cursor.copy(f"COPY {scratch} ({names}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {scratch} ORDER BY {conflict} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
            )
        else:  # SQLite: one short statement run for every row (a loop in C)
            one = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({one}) ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
                data,
            )
        shrunk = [key for key, facts in sorted(rows.items()) if any(v < 0 for v in facts)]
        if not shrunk:
            return
        all_zero = " AND ".join(f"{qn(f)} = 0" for f in FACT_FIELDS)
        match = " AND ".join(f"{qn(k)} = %s" for k in keys)
        cursor.executemany(f"DELETE FROM {table} WHERE {match} AND {all_zero}", shrunk)


def _apply_delta(delta: dict[Key, dict[str, int]]) -> None:
    """Add ``delta`` to the rollup buckets and their slices; a row whose facts all reach zero is
    deleted."""
    delta = {k: v for k, v in delta.items() if any(v.values())}
    if not delta:
        return
    _upsert(DailyRollup, BUCKET_FIELDS, {k: [v[f] for f in FACT_FIELDS] for k, v in delta.items()})
    _upsert(SliceRollup, SLICE_FIELDS, _slices(delta))


_FACT_COLUMNS = ("complaint_id", *BUCKET_FIELDS, *FACT_FIELDS)


def _insert_facts(data: list[tuple[Any, ...]]) -> None:
    """Insert new ``CaseFact`` rows, as tuples in ``_FACT_COLUMNS`` order (PostgreSQL: COPY;
    SQLite: one short statement per row)."""
    if not data:
        return
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(CaseFact._meta.db_table)} ({', '.join(qn(c) for c in _FACT_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(_FACT_COLUMNS))})"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = ", ".join(qn(c) for c in _FACT_COLUMNS)
            with cursor.cursor.copy(f"COPY {qn(CaseFact._meta.db_table)} ({names}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, data)


def rollup_apply_cases(
    complaint_ids: Iterable[int], *, calendars: _Calendars | None = None, siblings: bool = True
) -> int:
    """Recompute the facts of these cases (and of their customers' other cases, unless
    ``siblings`` is false: a rebuild reaches them anyway) and move the rollups by the difference.
    Only the cases whose facts changed are rewritten. Part of the caller's transaction. Returns
    how many cases were recomputed."""
    ids = customers_cases(complaint_ids) if siblings else set(complaint_ids)
    if not ids:
        return 0
    width = len(BUCKET_FIELDS) + len(FACT_FIELDS)
    old: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in CaseFact.objects.filter(complaint_id__in=ids).values_list(
        "complaint_id", *BUCKET_FIELDS, *FACT_FIELDS
    ):
        old[row[0]].append(row[1:])
    new: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for fact in cases_facts(ids, calendars=calendars):
        new[fact.complaint_id].append(tuple(getattr(fact, f) for f in _FACT_COLUMNS[1:]))
    changed = [cid for cid in sorted(ids) if sorted(old.get(cid, ())) != sorted(new.get(cid, ()))]
    if not changed:
        return len(ids)
    nb = len(BUCKET_FIELDS)
    delta: dict[Key, list[int]] = {}
    for sign, rows in ((1, new), (-1, old)):
        for cid in changed:
            for row in rows.get(cid, ()):
                bucket = delta.get(row[:nb])
                if bucket is None:
                    bucket = delta[row[:nb]] = [0] * (width - nb)
                for n, v in enumerate(row[nb:]):
                    if v:
                        bucket[n] += sign * v
    stale = [cid for cid in changed if cid in old]
    if stale:
        CaseFact.objects.filter(complaint_id__in=stale).delete()
    _insert_facts([(cid, *row) for cid in changed for row in new.get(cid, ())])
    _apply_delta({k: dict(zip(FACT_FIELDS, v, strict=True)) for k, v in delta.items()})
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


def _rebuild_start() -> None:
    """Empty the facts and rollups and mark a rebuild as running, in one transaction holding the
    cursor lock. The cursor moves to the newest event seen (recent ids not seen yet stay gaps):
    the consumer applies what happens from now on, the rebuild's chunks everything before."""
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
        gaps = {i: stamp for i in range(recent[0], last) if i not in seen} if recent else {}
        # Ids the consumer was still waiting for stay awaited: their cases may not be in a chunk yet.
        gaps.update({int(i): at for i, at in cursor.gaps if int(i) <= last})
        CaseFact.objects.all().delete()
        DailyRollup.objects.all().delete()
        SliceRollup.objects.all().delete()
        cursor.last_id = max(last, cursor.last_id)
        cursor.gaps = [[i, at] for i, at in sorted(gaps.items())]
        cursor.updated_at = now
        cursor.rebuild_after = 0
        cursor.rebuild_done = 0
        cursor.rebuild_total = Complaint.objects.count()
        cursor.save()


def analytics_rebuild(
    *,
    chunk: int = 2000,
    progress: Callable[[int, int], Any] | None = None,
    restart: bool = False,
    stop_after: int | None = None,
) -> int:
    """Recompute every case's facts and every rollup from scratch, in chunks of ``chunk`` cases,
    each its own transaction (the consumer keeps running between them; applying a case is
    idempotent, so a case the consumer reaches first is not counted twice). A rebuild that was
    interrupted resumes where it stopped, unless ``restart``. ``stop_after`` chunks: stop there
    (tests). Reports say that a rebuild is running while it does. Returns how many cases were
    recomputed by this call."""
    cursor = EventCursor.objects.filter(consumer=CONSUMER).first()
    if restart or cursor is None or cursor.rebuild_after is None:
        _rebuild_start()
    calendars = _Calendars()
    handled = chunks = 0
    while stop_after is None or chunks < stop_after:
        with transaction.atomic():
            cursor = _cursor_locked()
            after = cursor.rebuild_after
            if after is None:  # finished by another process
                break
            ids = list(
                Complaint.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:chunk]
            )
            if not ids:
                cursor.rebuild_after = None
                cursor.save(update_fields=["rebuild_after"])
                break
            rollup_apply_cases(ids, calendars=calendars, siblings=False)
            cursor.rebuild_after = ids[-1]
            cursor.rebuild_done += len(ids)
            cursor.rebuild_total = max(cursor.rebuild_total, cursor.rebuild_done)
            cursor.save(update_fields=["rebuild_after", "rebuild_done", "rebuild_total"])
        handled += len(ids)
        chunks += 1
        if progress:
            progress(cursor.rebuild_done, cursor.rebuild_total)
    return handled


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
