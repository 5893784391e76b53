"""The quality pages: who may open which, denied paths change nothing, bad input is refused
clearly, the inspector lands on the queue, and the command samples a week."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from tousu.audit.models import AuditEvent, AuditKind
from tousu.complaints.states import Status
from tousu.quality import services as q
from tousu.quality.models import Inspection, SamplingRules, SamplingRun, Scorecard

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
WEEK = date(2026, 11, 9)


@pytest.fixture
def picked(people, cases, time_machine):
    time_machine.move_to(datetime(2026, 11, 10, 10, tzinfo=SH), tick=False)
    q.quality_defaults_install()
    case = cases.make(Status.CLOSED, fcr=True)
    time_machine.move_to(datetime(2026, 11, 17, 10, tzinfo=SH), tick=False)
    pick = q.sampling_run(week_start=WEEK, actor=people["inspector"]).run.picks.get()
    assert pick.complaint_id == case.pk
    return pick


def test_the_inspector_lands_on_the_queue_and_agents_cannot_open_it(client, people, picked):
    client.force_login(people["inspector"])
    assert client.get("/")["Location"] == "/quality/"
    page = client.get("/quality/")
    assert page.status_code == 200
    assert f"/quality/picks/{picked.pk}/" in page.content.decode()
    client.force_login(people["agent"])
    assert client.get("/quality/").status_code == 403
    assert client.get(f"/quality/picks/{picked.pk}/").status_code == 403
    assert client.get("/quality/mine/").status_code == 200


def test_the_inspection_page_shows_the_case_and_logs_the_read(client, people, picked):
    client.force_login(people["inspector"])
    assert (
        f"/quality/cases/{picked.complaint_id}/"
        in client.get(f"/cases/{picked.complaint_id}/").content.decode()
    )
    assert client.get(f"/quality/cases/{picked.complaint_id}/")["Location"] == f"/quality/picks/{picked.pk}/"
    assert client.get(f"/quality/cases/{picked.complaint_id + 1000}/").status_code == 404
    page = client.get(f"/quality/picks/{picked.pk}/").content.decode()
    assert "已当场解释并退费。" in page  # the reply to the customer
    assert 'name="c_privacy"' in page
    assert (
        AuditEvent.objects.filter(
            actor=people["inspector"], kind=AuditKind.PERSONAL_DATA_READ, complaint_id=picked.complaint_id
        ).count()
        == 2  # the case page, then the inspection page
    )


def test_a_missing_answer_is_refused_and_nothing_is_written(client, people, picked, unchanged):
    client.force_login(people["inspector"])
    with unchanged():
        response = client.post(f"/quality/picks/{picked.pk}/", {"c_greeting": "yes", "comments": "x"})
    assert response.status_code == 400
    assert "请为每个评分项打分：缺少 listening, policy" in response.content.decode()


def test_another_agent_may_neither_read_nor_appeal_an_inspection(client, people, picked, unchanged):
    answers = {c: True for c in ("greeting", "listening", "policy", "timeliness", "reply", "follow_up")}
    inspection = q.inspection_submit(
        actor=people["inspector"], pick_id=picked.pk, answers={**answers, "privacy": True, "promise": True}
    )
    client.force_login(people["agent_other"])
    assert client.get(f"/quality/inspections/{inspection.pk}/").status_code == 403
    with unchanged():
        assert (
            client.post(f"/quality/inspections/{inspection.pk}/appeal/", {"reason": "x"}).status_code == 403
        )
    client.force_login(people["agent"])
    assert 'id="appeal-form"' in client.get(f"/quality/inspections/{inspection.pk}/").content.decode()
    assert client.get("/quality/team/").status_code == 403
    assert Inspection.objects.get().status == "submitted"


def test_supervisors_edit_the_rules_audited_and_bad_numbers_are_refused(client, people, picked, unchanged):
    client.force_login(people["supervisor"])
    form = {
        "random_per_agent": "3",
        "pick_reopened": "on",
        "remedy_above": "",
        "calibration_per_week": "2",
        "appeal_working_days": "5",
        "seed": "gz-2026",
    }
    with unchanged():
        assert client.post("/quality/rules/", {**form, "random_per_agent": "many"}).status_code == 400
    assert client.post("/quality/rules/", form).status_code == 302
    rules = SamplingRules.objects.get()
    assert (rules.random_per_agent, rules.pick_reopened, rules.pick_escalated, rules.remedy_above) == (
        3,
        True,
        False,
        None,
    )
    assert (rules.calibration_per_week, rules.appeal_working_days, rules.seed) == (2, 5, "gz-2026")
    audit = (
        AuditEvent.objects.filter(kind=AuditKind.CONFIG_CHANGED, object_type="quality.samplingrules")
        .order_by("pk")
        .last()
    )
    assert audit.actor == people["supervisor"]
    assert audit.payload["changes"]["random_per_agent"] == {"before": "2", "after": "3"}
    client.force_login(people["inspector"])
    with unchanged():
        assert client.post("/quality/rules/", form).status_code == 403


def test_the_league_table_and_drill_down(client, people, picked):
    client.force_login(people["supervisor"])
    page = client.get("/quality/team/?period=month&day=2026-11-10").content.decode()
    assert f"/quality/team/{people['agent'].pk}/" in page
    drill = client.get(f"/quality/team/{people['agent'].pk}/?period=month&day=2026-11-10").content.decode()
    assert f"/cases/{picked.complaint_id}/" in drill


def test_the_command_samples_a_week_once(people, cases, time_machine):
    time_machine.move_to(datetime(2026, 11, 10, 10, tzinfo=SH), tick=False)
    q.quality_defaults_install()
    cases.make(Status.CLOSED, fcr=True)
    time_machine.move_to(datetime(2026, 11, 17, 10, tzinfo=SH), tick=False)
    out = StringIO()
    call_command("quality", "sample", stdout=out)
    call_command("quality", "sample", "--week", "2026-11-09", stdout=out)
    assert out.getvalue().splitlines() == [
        "week of 2026-11-09: 1 cases picked",
        "week of 2026-11-09: 1 cases were picked already",
    ]
    assert SamplingRun.objects.get().via == "command"
    with pytest.raises(CommandError, match="Monday"):
        call_command("quality", "sample", "--week", "2026-11-10")
    with pytest.raises(CommandError, match="not ended"):
        call_command("quality", "sample", "--week", str(WEEK + timedelta(days=7)))


def test_calibration_scores_stay_blind_until_one_has_scored(client, people, picked):
    from tousu.quality.models import Pick

    Pick.objects.filter(pk=picked.pk).update(calibration=True)
    answers = dict.fromkeys(("greeting", "listening", "policy", "timeliness", "reply", "follow_up"), True)
    first = q.inspection_submit(
        actor=people["inspector"], pick_id=picked.pk, answers={**answers, "privacy": True, "promise": True}
    )
    client.force_login(people["supervisor"])
    assert client.get(f"/quality/inspections/{first.pk}/").status_code == 403
    assert f"/quality/picks/{picked.pk}/" in client.get("/quality/").content.decode()
    q.inspection_submit(
        actor=people["supervisor"], pick_id=picked.pk, answers={**answers, "privacy": True, "promise": True}
    )
    assert client.get(f"/quality/inspections/{first.pk}/").status_code == 200
    assert client.get("/quality/calibration/").content.decode().count("100.0") == 2


def test_supervisors_publish_a_new_scorecard_version_and_old_inspections_keep_theirs(
    client, people, unchanged
):
    q.quality_defaults_install()
    card = Scorecard.objects.get()
    first = card.versions.get()
    client.force_login(people["agent"])
    with unchanged():
        assert client.post("/quality/scorecards/", {"code": card.code}).status_code == 403
    client.force_login(people["supervisor"])
    page = client.get("/quality/scorecards/")
    assert page.status_code == 200
    assert "privacy | 致命项：无必要泄露用户个人信息 | fatal" in page.content.decode()
    form = {"code": card.code, "name": card.name, "pass_mark": "85"}
    with unchanged():
        bad = client.post("/quality/scorecards/", {**form, "criteria": "greeting | 问候 | a lot"})
        assert bad.status_code == 400
        assert "第 1 行：权重须为整数或“fatal”。" in bad.content.decode()  # the staff language is Chinese
        assert (
            client.post("/quality/scorecards/", {**form, "criteria": "only two | parts"}).status_code == 400
        )
    lines = "greeting | 规范问候 | 40\nreply | 答复清楚 | 60\nprivacy | 泄露个人信息 | fatal"
    assert client.post("/quality/scorecards/", {**form, "criteria": lines}).status_code == 302
    second = card.versions.order_by("-number").first()
    assert (second.number, second.pass_mark, second.published_by) == (2, 85, people["supervisor"])
    assert second.criteria == [
        {"code": "greeting", "label": "规范问候", "weight": 40, "fatal": False},
        {"code": "reply", "label": "答复清楚", "weight": 60, "fatal": False},
        {"code": "privacy", "label": "泄露个人信息", "weight": 0, "fatal": True},
    ]
    first.refresh_from_db()
    assert first.number == 1
    assert len(first.criteria) == 8  # the earlier version is untouched
