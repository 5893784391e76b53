"""Shared cast and helpers. Personas follow healthchecks' habit: the same people in every test.

- ``agent`` registers cases; ``agent_other`` is another frontline agent.
- ``handler`` works in billing; ``handler_other`` in network.
- ``visitor`` records return visits; ``supervisor`` and ``manager`` act on everything.
- ``inspector`` reads; ``auditor`` reads logs only; ``admin`` configures.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone

from tousu.accounts.models import ApprovalLimit, Department, Region, User
from tousu.accounts.roles import DEFAULT_APPROVAL_LIMITS, Role
from tousu.complaints import services as svc
from tousu.complaints.models import Category, Complaint
from tousu.complaints.states import Status

PHONE = "13812348000"
PHONE_E164 = "+8613812348000"


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    return f"tousu database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"


@pytest.fixture(autouse=True)
def _english():
    """Messages and labels in English, so assertions read the same whatever the default language."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fresh_sla_config():
    """Each test starts without cached SLA policies, API keys or category codes (they are cached
    per process for speed, and a test's rows are gone after it)."""
    from tousu.api.keys import apikey_forget
    from tousu.api.services import category_codes_forget
    from tousu.sla.services import sla_config_changed

    for forget in (sla_config_changed, apikey_forget, category_codes_forget):
        forget()
    yield
    for forget in (sla_config_changed, apikey_forget, category_codes_forget):
        forget()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counts (sign-in failures per address, portal limits) do not leak between tests."""
    from tousu.common.ratelimit import ratelimit_reset

    ratelimit_reset()
    yield
    ratelimit_reset()


@pytest.fixture(autouse=True)
def _media_and_outbox(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TOUSU_NOTIFY_FILE = tmp_path / "outbox.log"
    settings.TOUSU_NOTIFY_TRANSPORT = "file"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only


@pytest.fixture(autouse=True)
def _append_only_guard(request):
    """Case events refuse DELETE while the guard says so (docs/adr/0009). A transactional test on
    SQLite is flushed with DELETEs afterwards, so it runs with the guard lifted (committed); every
    other database test sets it again inside its own transaction (rolled back with it)."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    transactional = bool(
        "transactional_db" in names
        or "live_server" in names
        or (marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )
    if not (transactional or marker is not None or "db" in names):
        yield
        return
    from tousu.complaints.append_only import guard_lift, guard_set

    if transactional:
        request.getfixturevalue("transactional_db")
        if connection.vendor == "sqlite":
            guard_lift(connection)
    else:
        request.getfixturevalue("db")
        guard_set(connection)
    yield


@pytest.fixture
def org(db) -> dict[str, Any]:
    """Departments, a category tree, regions and approval limits, as an operator would have them."""
    depts = {
        code: Department.objects.create(code=code, name=name)
        for code, name in [
            ("customer_service", "客户服务部"),
            ("billing", "计费结算部"),
            ("network", "网络运维部"),
            ("legal", "法律事务部"),
            ("management", "综合管理部"),
        ]
    }
    billing = Category.objects.create(code="billing", name="资费类", default_department=depts["billing"])
    wrong = Category.objects.create(
        code="billing-wrong-charge", name="错收", parent=billing, default_department=depts["billing"]
    )
    network = Category.objects.create(code="network", name="网络类", default_department=depts["network"])
    outage = Category.objects.create(
        code="network-outage", name="网络中断", parent=network, default_department=depts["network"]
    )
    for role, limit in DEFAULT_APPROVAL_LIMITS.items():
        ApprovalLimit.objects.create(role=role, max_amount=limit)
    urban = Region.objects.create(code="gz-tianhe", name="广州市天河区", is_rural=False)
    return {
        "dept": depts,
        "billing": billing,
        "wrong_charge": wrong,
        "network": network,
        "outage": outage,
        "urban": urban,
    }


def _user(username: str, role: Role, department: Department | None) -> User:
    return User.objects.create_user(username=username, password="pw", role=role, department=department)


@pytest.fixture
def people(org) -> dict[str, User]:
    d = org["dept"]
    return {
        "agent": _user("agent", Role.AGENT, d["customer_service"]),
        "agent_other": _user("agent_other", Role.AGENT, d["customer_service"]),
        "handler": _user("handler", Role.HANDLER, d["billing"]),
        "handler_other": _user("handler_other", Role.HANDLER, d["network"]),
        "visitor": _user("visitor", Role.RETURN_VISIT, d["customer_service"]),
        "supervisor": _user("supervisor", Role.SUPERVISOR, d["customer_service"]),
        "manager": _user("manager", Role.MANAGER, d["management"]),
        "inspector": _user("inspector", Role.INSPECTOR, d["customer_service"]),
        "auditor": _user("auditor", Role.AUDITOR, d["legal"]),
        "admin": _user("admin", Role.ADMIN, None),
    }


class Cases:
    """Builds cases in any status by walking the real services (no shortcuts through the ORM)."""

    def __init__(self, org: dict[str, Any], people: dict[str, User]) -> None:
        self.org = org
        self.p = people

    def register(self, **overrides: Any) -> Complaint:
        fields: dict[str, Any] = {
            "actor": self.p["agent"],
            "channel": "hotline",
            "phone": PHONE,
            "customer_name": "张三",
            "business_type": "mobile",
            "category_id": self.org["wrong_charge"].pk,
            "level": "dissatisfied",
            "description": "用户反映3月账单被收取30元彩铃费用，从未订购。",
            "demand": "退还30元",
            "preferred_reply_channel": "sms",
        }
        fields.update(overrides)
        return svc.complaint_register(**fields)

    def make(self, status: Status, *, fcr: bool = False, **register: Any) -> Complaint:
        """A case in ``status``. ``fcr``: reach 'replied' through a first-contact resolution."""
        p = self.p
        c = self.register(**register)
        if status == Status.REGISTERED:
            return c
        if status == Status.REJECTED:
            svc.complaint_reject(
                actor=p["agent"],
                complaint_id=c.pk,
                reason="time_barred",
                explanation="超过5个月的账单争议不予受理。",
            )
            return self.reload(c)
        if status == Status.WITHDRAWN:
            svc.complaint_withdraw(actor=p["agent"], complaint_id=c.pk, reason="用户来电撤销")
            return self.reload(c)
        svc.complaint_accept(actor=p["agent"], complaint_id=c.pk)
        if status == Status.ACCEPTED:
            return self.reload(c)
        if fcr:
            svc.complaint_reply(
                actor=p["agent"],
                complaint_id=c.pk,
                channel="phone",
                content="已当场解释并退费。",
                first_contact_resolution=True,
            )
            if status == Status.CLOSED:
                svc.complaint_close(actor=p["agent"], complaint_id=c.pk)
            else:
                assert status == Status.REPLIED, "first-contact resolution leads to 'replied' or 'closed'"
            return self.reload(c)
        svc.complaint_dispatch(
            actor=p["agent"],
            complaint_id=c.pk,
            lead_department_id=self.org["dept"]["billing"].pk,
            assignee_id=p["handler"].pk,
        )
        if status == Status.DISPATCHED:
            return self.reload(c)
        svc.complaint_investigate(actor=p["handler"], complaint_id=c.pk)
        if status == Status.INVESTIGATING:
            return self.reload(c)
        if status == Status.AWAITING_CUSTOMER:
            svc.complaint_request_info(actor=p["handler"], complaint_id=c.pk, question="请提供账单截图")
            return self.reload(c)
        self.plan(c)
        if status == Status.PLAN_PROPOSED:
            return self.reload(c)
        if status == Status.AWAITING_APPROVAL:
            svc.remedy_request(actor=p["handler"], complaint_id=c.pk, kind="compensation", amount="100")
            return self.reload(c)
        svc.complaint_reply(
            actor=p["handler"], complaint_id=c.pk, channel="sms", content="经核查已退还30元。"
        )
        if status == Status.REPLIED:
            return self.reload(c)
        if status == Status.REOPENED:
            svc.return_visit_record(
                actor=p["visitor"],
                complaint_id=c.pk,
                reached=True,
                resolved=False,
                satisfaction=2,
                comment="仍有扣费",
            )
            return self.reload(c)
        svc.return_visit_record(
            actor=p["visitor"], complaint_id=c.pk, reached=True, resolved=True, satisfaction=5
        )
        if status == Status.RETURN_VISIT:
            return self.reload(c)
        svc.complaint_close(actor=p["visitor"], complaint_id=c.pk)
        assert status == Status.CLOSED
        return self.reload(c)

    def plan(self, c: Complaint) -> None:
        svc.complaint_propose_plan(
            actor=self.p["handler"],
            complaint_id=c.pk,
            kind="immediate",
            measures="退还错收的30元彩铃费并取消业务",
            responsible_id=self.p["handler"].pk,
            deadline=timezone.now() + timedelta(days=2),
        )

    @staticmethod
    def reload(c: Complaint) -> Complaint:
        return Complaint.objects.get(pk=c.pk)


@pytest.fixture
def cases(org, people) -> Cases:
    return Cases(org, people)


def snapshot() -> dict[str, Any]:
    """Every row of every Tousu table, to prove a refused call changed nothing."""
    state: dict[str, Any] = {}
    for model in apps.get_models():
        if not model.__module__.startswith("tousu."):
            continue
        rows = []
        for obj in model.objects.order_by("pk"):
            row = model_to_dict(obj)
            for key, value in list(row.items()):
                if hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict, list)):
                    row[key] = sorted(getattr(v, "pk", v) for v in value)
                elif hasattr(value, "name") and hasattr(value, "storage"):
                    row[key] = value.name
            rows.append(row)
        state[model._meta.label] = rows
    return state


@pytest.fixture
def unchanged():
    """Use as ``with unchanged(): call()`` around a call expected to raise: asserts no row moved."""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = snapshot()
        yield
        assert snapshot() == before

    return check


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback with the e-mail transport pointed at it (tests/smtp.py)."""
    from tests.smtp import smtp_server

    with smtp_server(settings) as inbox:
        yield inbox
