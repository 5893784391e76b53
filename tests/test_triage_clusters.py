"""Outage clusters (群体性投诉): network complaints from one region over the threshold within the
window open a major incident (crisis above the second threshold) that links the cases, alerts
the network department and supervisors; later cases of the region join it."""

from __future__ import annotations

import pytest

from tousu.accounts.models import Region
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent
from tousu.notifications.models import Notification, Transport
from tousu.ops.worker import JOBS
from tousu.triage.models import Incident
from tousu.triage.services import triage_clusters

OUTAGE = "小区宽带全部断网，光猫红灯"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TOUSU_TRIAGE_CLUSTER_SIZE = 3
    settings.TOUSU_TRIAGE_CLUSTER_MINUTES = 30
    settings.TOUSU_TRIAGE_CRISIS_SIZE = 5


def _outage(cases, org, n: int, region: Region, start: int = 0) -> list:
    return [
        cases.register(
            phone=f"1380000{start + i:04d}",
            category_id=org["outage"].pk,
            region_id=region.pk,
            description=OUTAGE,
        )
        for i in range(n)
    ]


def test_the_worker_runs_the_job():
    assert any(name == "clusters" for name, _kind, _job in JOBS)


def test_below_the_threshold_nothing_happens(cases, org):
    _outage(cases, org, 2, org["urban"])
    cases.register(phone="13900000001", region_id=org["urban"].pk)  # a billing case does not count
    assert triage_clusters() == 0
    assert not Incident.objects.exists()
    assert not Notification.objects.exists()


def test_cluster_opens_an_incident_links_alerts_and_grows(cases, org, people):
    rural = Region.objects.create(code="mz-dabu", name="梅州市大埔县", is_rural=True)
    children = _outage(cases, org, 3, org["urban"])
    _outage(cases, org, 2, rural, start=50)  # another region, below the threshold
    assert triage_clusters() == 3
    incident = Incident.objects.get()
    assert (incident.region, incident.level, incident.title) == (
        org["urban"],
        "major",
        "广州市天河区 网络故障群体性投诉",
    )
    assert set(incident.cases.all()) == set(children)
    for child in children:
        event = ComplaintEvent.objects.get(complaint=child, kind=EventKind.LINKED)
        assert event.payload == {"kind": "incident", "incident": incident.pk, "label": "群体性投诉"}
    alerted = set(
        Notification.objects.filter(transport=Transport.INBOX).values_list(
            "recipient_user__username", flat=True
        )
    )
    assert alerted == {"supervisor", "manager", "handler_other"}  # supervisors and the network department
    assert Notification.objects.filter(recipient_user=people["supervisor"]).get().subject == (
        "群体性投诉：广州市天河区 网络类 3 件（Major complaint）"
    )
    assert triage_clusters() == 0  # nothing new

    # later cases join the open incident; past the second threshold it becomes a crisis
    later = _outage(cases, org, 2, org["urban"], start=100)
    assert triage_clusters() == 2
    incident.refresh_from_db()
    assert incident.level == "crisis"
    assert incident.cases.count() == 5
    assert set(later) <= set(incident.cases.all())
    assert Incident.objects.count() == 1
    assert Notification.objects.filter(recipient_user=people["supervisor"]).count() == 2


def test_supervisor_replies_to_every_linked_customer_and_closes(cases, org, people, unchanged):
    from tousu.common.errors import NotFound, PermissionDenied, ValidationError
    from tousu.complaints import services as svc
    from tousu.complaints.models import Complaint, Reply
    from tousu.complaints.states import Status
    from tousu.triage.services import incident_close, incident_reply_all

    children = [
        svc.complaint_accept(actor=people["agent"], complaint_id=c.pk)
        for c in _outage(cases, org, 3, org["urban"])
    ]
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=children[1].pk, lead_department_id=org["dept"]["network"].pk
    )
    triage_clusters()
    incident = Incident.objects.get()
    text = "经核查为光缆故障，已于今日修复，给您带来不便深表歉意。"

    with unchanged(), pytest.raises(PermissionDenied):
        incident_reply_all(actor=people["agent"], incident_id=incident.pk, content=text)
    with unchanged(), pytest.raises(ValidationError):
        incident_reply_all(actor=people["supervisor"], incident_id=incident.pk, content="  ")
    with unchanged(), pytest.raises(NotFound):
        incident_reply_all(actor=people["supervisor"], incident_id=incident.pk + 1, content=text)

    assert incident_reply_all(actor=people["supervisor"], incident_id=incident.pk, content=text) == {
        "replied": 3,
        "skipped": 0,
    }
    for child in children:
        child = Complaint.objects.get(pk=child.pk)
        assert child.status == Status.REPLIED
        assert child.lead_department == org["dept"]["network"]
        assert Reply.objects.get(complaint=child).content == text
        kinds = list(
            ComplaintEvent.objects.filter(complaint=child).order_by("id").values_list("kind", flat=True)
        )
        assert kinds[-1] == EventKind.REPLIED
        assert {EventKind.DISPATCHED, EventKind.PLAN_PROPOSED, EventKind.LINKED} <= set(kinds)

    # replied cases close after their return visit: one visited, two not yet
    svc.return_visit_record(
        actor=people["visitor"], complaint_id=children[0].pk, reached=True, resolved=True, satisfaction=5
    )
    with unchanged(), pytest.raises(PermissionDenied):
        incident_close(actor=people["handler_other"], incident_id=incident.pk)
    assert incident_close(actor=people["supervisor"], incident_id=incident.pk) == {
        "closed": 1,
        "left_open": 2,
    }
    incident.refresh_from_db()
    assert incident.closed_at is not None
    with unchanged(), pytest.raises(ValidationError, match="already closed"):  # closing again: refused
        incident_close(actor=people["supervisor"], incident_id=incident.pk)
    assert Complaint.objects.get(pk=children[0].pk).status == Status.CLOSED
    assert Complaint.objects.get(pk=children[1].pk).status == Status.REPLIED
