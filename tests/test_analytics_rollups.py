"""The rollups: kept from the event log by the worker's consumer, identical to a rebuild, never
counting an event twice, and moving a case between buckets when it changes."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from tousu.analytics import services as analytics
from tousu.analytics.facts import report_zone
from tousu.analytics.models import (
    BUCKET_FIELDS,
    FACT_FIELDS,
    SLICE_FIELDS,
    CaseFact,
    DailyRollup,
    EventCursor,
    SliceRollup,
)
from tousu.analytics.selectors import Filters, Period, rebuild_progress, rollup_breakdown, rollup_sums
from tousu.complaints import append_only
from tousu.complaints import services as svc
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db


def table(model) -> list[tuple]:
    if model is SliceRollup:
        return sorted(model.objects.values_list(*SLICE_FIELDS, *FACT_FIELDS))
    fields = (*(("complaint_id",) if model is CaseFact else ()), *BUCKET_FIELDS, *FACT_FIELDS)
    return sorted(model.objects.values_list(*fields))


def tables() -> tuple[list[tuple], ...]:
    return table(CaseFact), table(DailyRollup), table(SliceRollup)


def slices_recounted() -> list[tuple]:
    """The slice rows summed again, here, from the full-grain rollups."""
    out: dict[tuple, list[int]] = {}
    for row in DailyRollup.objects.values(*BUCKET_FIELDS, *FACT_FIELDS):
        for grain, day in (("d", row["day"]), ("m", row["day"].replace(day=1))):
            keys = [(grain, "", "", day)]
            keys += [(grain, d, str(row[d]), day) for d in BUCKET_FIELDS if d != "day"]
            for key in keys:
                sums = out.setdefault(key, [0] * len(FACT_FIELDS))
                for n, f in enumerate(FACT_FIELDS):
                    sums[n] += row[f]
    return sorted((*k, *v) for k, v in out.items() if any(v))


def consume_all() -> int:
    total = 0
    while handled := analytics.analytics_consume(limit=7):  # small batches: many cursor moves
        total += handled
    return total


def month() -> Period:
    return Period.containing("month", timezone.now().astimezone(report_zone()).date())


def sums(**filters) -> dict[str, int]:
    return rollup_sums(month(), Filters(**filters))


@pytest.fixture
def sla(org):
    sla_bootstrap()


def a_mix(cases, people, org) -> None:
    cases.make(Status.CLOSED)
    cases.make(Status.CLOSED, fcr=True, phone="13900000001")
    cases.make(Status.REOPENED, phone="13900000002")
    cases.make(Status.REJECTED, phone="13900000003")
    cases.make(Status.ACCEPTED, channel="regulator", phone="13900000004", category_id=org["outage"].pk)
    c = cases.make(Status.INVESTIGATING, phone="13900000005")
    svc.complaint_escalate(actor=people["supervisor"], complaint_id=c.pk, reason="客户多次来电")


def test_incremental_and_rebuild_give_identical_tables(cases, people, org, sla):
    a_mix(cases, people, org)
    assert consume_all() == ComplaintEvent.objects.count()
    incremental = tables()
    assert incremental[2] == slices_recounted() != []

    call_command("analytics", "rebuild", stdout=StringIO(), stderr=StringIO())

    assert tables() == incremental
    s = sums()
    assert (s["accepted"], s["rejected"], s["closed"], s["closed_first_contact"], s["reopened"]) == (
        5,
        1,
        2,
        1,
        1,
    )
    assert (s["regulator_referrals"], s["escalated"], s["escalated_manual"], s["replied"]) == (1, 2, 1, 3)
    assert (s["visits_reached"], s["visits_satisfied"], s["satisfaction_sum"]) == (2, 1, 7)
    assert s["escalated_dissatisfaction"] == 1  # the reopened case, at its dissatisfied return visit


def test_reading_the_log_again_counts_nothing_twice(cases, people, org):
    a_mix(cases, people, org)
    consume_all()
    before = tables()

    EventCursor.objects.filter(consumer="analytics").update(last_id=0, gaps=[])
    consume_all()

    assert tables() == before


def test_a_batch_that_fails_midway_leaves_cursor_facts_and_rollups_as_they_were(
    cases, people, org, monkeypatch
):
    cases.make(Status.CLOSED)
    consume_all()
    before = (table(CaseFact), table(DailyRollup), list(EventCursor.objects.values_list("last_id", "gaps")))
    c = cases.make(Status.REPLIED, phone="13900000009")

    def die(delta):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(analytics, "_apply_delta", die)
    with pytest.raises(RuntimeError):
        analytics.analytics_consume()
    assert (
        table(CaseFact),
        table(DailyRollup),
        list(EventCursor.objects.values_list("last_id", "gaps")),
    ) == before

    monkeypatch.undo()
    consume_all()
    assert CaseFact.objects.filter(complaint_id=c.pk).count() == 1
    assert sums()["accepted"] == 2


def test_a_reopened_case_leaves_the_closed_bucket_and_a_relevelled_case_moves(cases, people, org):
    c = cases.make(Status.CLOSED)
    consume_all()
    assert (sums()["closed"], sums(level="dissatisfied")["accepted"]) == (1, 1)

    svc.complaint_reopen(actor=people["supervisor"], complaint_id=c.pk, reason="问题复现")
    svc.complaint_change_level(actor=people["supervisor"], complaint_id=c.pk, level="major", reason="影响大")
    consume_all()

    assert (sums()["closed"], sums()["reopened"]) == (0, 1)
    assert (sums(level="dissatisfied")["accepted"], sums(level="major")["accepted"]) == (0, 1)
    assert DailyRollup.objects.filter(level="dissatisfied").count() == 0  # emptied buckets go
    assert SliceRollup.objects.filter(dimension="level", value="dissatisfied").count() == 0
    incremental = tables()
    assert incremental[2] == slices_recounted()
    analytics.analytics_rebuild()
    assert tables() == incremental


@pytest.mark.parametrize("dies_in", ["_slices", "_upsert"])
def test_a_worker_killed_between_the_rollup_writes_counts_nothing_twice(
    cases, people, org, monkeypatch, dies_in
):
    cases.make(Status.CLOSED)
    consume_all()
    before = (*tables(), list(EventCursor.objects.values_list("last_id", "gaps")))
    c = cases.make(Status.REPLIED, phone="13900000019")
    real = getattr(analytics, dies_in)
    calls = []

    def dies_second_time(*args, **kwargs):  # after the facts and the full-grain rollups are written
        calls.append(1)
        if len(calls) == 2 or dies_in == "_slices":
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(analytics, dies_in, dies_second_time)
    with pytest.raises(RuntimeError):
        analytics.analytics_consume()
    assert (*tables(), list(EventCursor.objects.values_list("last_id", "gaps"))) == before

    monkeypatch.undo()
    consume_all()
    consume_all()
    assert sums()["accepted"] == 2
    assert CaseFact.objects.filter(complaint_id=c.pk).count() == 1
    incremental = tables()
    analytics.analytics_rebuild()
    assert tables() == incremental


def test_a_rebuild_runs_in_chunks_resumes_and_meets_the_consumer(cases, people, org):
    a_mix(cases, people, org)
    consume_all()
    incremental = tables()
    assert rebuild_progress() is None

    analytics.analytics_rebuild(chunk=2, stop_after=1)  # interrupted after its first chunk
    assert rebuild_progress() == (2, 6)
    assert CaseFact.objects.values("complaint_id").distinct().count() == 2  # committed chunk by chunk
    # Meanwhile the worker applies new events, of a case the rebuild has not reached yet too.
    late = cases.make(Status.CLOSED, phone="13900000020")
    svc.complaint_escalate(
        actor=people["supervisor"],
        complaint_id=cases.make(Status.ACCEPTED, phone="13900000021").pk,
        reason="紧急",
    )
    consume_all()

    out, err = StringIO(), StringIO()
    call_command("analytics", "rebuild", "--chunk", "3", stdout=out, stderr=err)  # resumes

    assert rebuild_progress() is None
    assert "8/8 cases" in err.getvalue()
    assert CaseFact.objects.filter(complaint_id=late.pk).exists()
    assert sums()["accepted"] == 7
    resumed = tables()
    analytics.analytics_rebuild(restart=True)
    assert tables() == resumed
    assert resumed[2] == slices_recounted()
    assert len(resumed[0]) > len(incremental[0])


def test_slices_answer_the_same_as_the_full_grain(cases, people, org):
    a_mix(cases, people, org)
    consume_all()
    for dimension in ("region_id", "category_id", "channel", "department_id", "level", "business_type"):
        by_slices = rollup_breakdown(month(), Filters(), dimension)
        # Two filters: the full-grain rollups answer (business_type narrows nothing here).
        both = Filters(business_type="mobile", level="dissatisfied") if dimension != "level" else None
        full = {
            k: v for k, v in rollup_breakdown(month(), Filters(business_type="mobile"), dimension).items()
        }
        assert by_slices == full, dimension
        if both is not None:
            assert rollup_breakdown(month(), both, dimension) == rollup_breakdown(
                month(), Filters(level="dissatisfied"), dimension
            )


@contextmanager
def _events_deletable():
    """Lift the append-only guard for a moment, to stand in for a transaction not yet committed."""
    append_only.guard_lift(connection)
    try:
        yield
    finally:
        append_only.guard_set(connection)


def test_an_event_that_commits_below_the_cursor_is_still_applied(cases, org):
    first = cases.make(Status.ACCEPTED)
    late = cases.make(Status.ACCEPTED, phone="13900000010")
    last = cases.make(Status.ACCEPTED, phone="13900000011")
    # ``late``'s events are not visible yet (their transaction has not committed): hide them.
    hidden = list(ComplaintEvent.objects.filter(complaint=late))
    with _events_deletable():  # (the record refuses deletes: this test stands in for a commit)
        ComplaintEvent.objects.filter(complaint=late).delete()
    consume_all()
    cursor = EventCursor.objects.get()
    assert cursor.last_id == ComplaintEvent.objects.filter(complaint=last).latest("id").pk
    assert [g[0] for g in cursor.gaps] == [e.pk for e in hidden]
    assert set(CaseFact.objects.values_list("complaint_id", flat=True)) == {first.pk, last.pk}

    ComplaintEvent.objects.bulk_create(hidden)  # the transaction commits
    assert consume_all() == len(hidden)

    assert EventCursor.objects.get().gaps == []
    assert set(CaseFact.objects.values_list("complaint_id", flat=True)) == {first.pk, late.pk, last.pk}
    assert sums()["accepted"] == 3


def test_a_gap_older_than_the_horizon_is_given_up(cases, settings):
    cases.make(Status.ACCEPTED)
    other = cases.make(Status.ACCEPTED, phone="13900000012")
    hidden = list(ComplaintEvent.objects.filter(complaint=other).order_by("id"))[:1]
    with _events_deletable():
        ComplaintEvent.objects.filter(pk=hidden[0].pk).delete()  # a rolled-back id, say
    cases.make(Status.ACCEPTED, phone="13900000013")
    consume_all()
    assert [g[0] for g in EventCursor.objects.get().gaps] == [hidden[0].pk]

    settings.TOUSU_ANALYTICS_GAP_SECONDS = 600
    analytics.analytics_consume(now=timezone.now() + timedelta(seconds=601))

    assert EventCursor.objects.get().gaps == []


def test_subscriber_import_checks_every_line_before_writing(org, unchanged):
    with unchanged(), pytest.raises(analytics.ValidationError, match="Line 3: no region"):
        analytics.subscribers_import(
            text="region,month,subscribers\ngz-tianhe,2026-11,1000\nnowhere,2026-11,5\n"
        )
    with unchanged(), pytest.raises(analytics.ValidationError, match="Line 2: subscribers must be"):
        analytics.subscribers_import(text="region,month,subscribers\ngz-tianhe,2026-11,-4\n")

    assert (
        analytics.subscribers_import(text='\ufeffregion,month,subscribers\ngz-tianhe,2026-11,"1,200,000"\n')
        == 1
    )
    assert analytics.subscribers_import(text="region,month,subscribers\ngz-tianhe,2026-11,1300000\n") == 1
    from tousu.analytics.models import SubscriberCount

    assert list(SubscriberCount.objects.values_list("region__code", "month", "subscribers")) == [
        ("gz-tianhe", timezone.datetime(2026, 11, 1).date(), 1_300_000)
    ]


def test_hotline_import_refuses_more_answered_than_offered(db, unchanged):
    with unchanged(), pytest.raises(analytics.ValidationError, match="more calls answered than offered"):
        analytics.hotline_import(text="day,calls_offered,calls_answered\n2026-11-02,10,11\n")
    assert analytics.hotline_import(text="day,calls_offered,calls_answered\n2026-11-02,1000,950\n") == 1


def test_handling_time_median_and_p90_are_nearest_rank_over_the_replied_cases(cases, time_machine):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tousu.analytics.selectors import handling_percentiles

    start = datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    for n, hours in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 30]):
        time_machine.move_to(start + timedelta(minutes=n), tick=False)
        c = cases.make(Status.ACCEPTED, phone=f"1390000{n:04d}", fcr=False)
        time_machine.move_to(start + timedelta(minutes=n, hours=hours), tick=False)
        svc.complaint_reply(
            actor=cases.p["agent"],
            complaint_id=c.pk,
            channel="phone",
            content="已解决。",
            first_contact_resolution=True,
        )
    consume_all()

    got = handling_percentiles(Period.containing("month", start.date()), Filters())

    assert got == {"median": 5.0, "p90": 9.0}  # ranks 5 and 9 of 10 sorted times, in hours
