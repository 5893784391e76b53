"""The administration: configuration edits are audited with before/after (never secrets), and an
invalid SLA policy is a form error, not a crash."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.forms.widgets import MultiWidget

from tousu.accounts.models import ApprovalLimit, Region, User
from tousu.accounts.roles import Role
from tousu.api.models import ApiKey
from tousu.audit.configadmin import AuditedConfigAdmin
from tousu.audit.models import AuditEvent, AuditKind
from tousu.common.admin import ReadOnlyAdmin
from tousu.complaints.models import Category
from tousu.sla.admin import SlaEditorAdmin
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import SlaPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, people):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    return client


def form_data(client, url: str) -> dict[str, Any]:
    """What the admin page at ``url`` would post back unchanged."""
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        widget = field.widget
        if isinstance(widget, MultiWidget):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value is None:
            data[name] = ""
        else:
            data[name] = str(value)
    for formset in response.context.get("inline_admin_formsets", []):
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data


def config_rows() -> list[tuple[str | None, str, str, dict]]:
    return [
        (e.actor.username if e.actor else e.actor_label, e.object_type, e.object_id, e.payload)
        for e in AuditEvent.objects.filter(kind=AuditKind.CONFIG_CHANGED).order_by("id")
    ]


# --- every configuration admin is audited ---------------------------------------------------------


def test_every_editable_admin_is_audited():
    """A new admin for a configuration model must opt into the audit (or be read-only)."""
    unaudited = [
        type(model_admin).__name__
        for model_admin in admin.site._registry.values()
        if not isinstance(model_admin, AuditedConfigAdmin | SlaEditorAdmin | ReadOnlyAdmin)
        and type(model_admin).__name__ != "AuditEventAdmin"  # read-only by its permissions
    ]
    assert unaudited == []


def test_editing_a_department_records_before_and_after(admin_client, org, people):
    billing = org["dept"]["billing"]
    url = f"/admin/accounts/department/{billing.pk}/change/"
    data = form_data(admin_client, url) | {"name": "计费部", "is_active": ""}
    data.pop("is_active")
    assert admin_client.post(url, data).status_code == 302
    [row] = config_rows()
    assert row == (
        "admin",
        "accounts.department",
        str(billing.pk),
        {
            "action": "changed",
            "object": "计费部",
            "changes": {
                "is_active": {"before": "True", "after": "False"},
                "name": {"before": "计费结算部", "after": "计费部"},
            },
        },
    )
    event = AuditEvent.objects.get()
    assert (event.via, event.ip) == ("web", "127.0.0.1")


def test_a_groups_permissions_change_is_audited(admin_client, db):
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="reviewers")
    permission = Permission.objects.get(codename="view_auditevent")
    url = f"/admin/auth/group/{group.pk}/change/"
    assert admin_client.post(url, {"name": "reviewers", "permissions": [permission.pk]}).status_code == 302
    [row] = config_rows()
    assert row[:3] == ("admin", "auth.group", str(group.pk))
    assert row[3]["changes"] == {"permissions": {"before": [], "after": [str(permission.pk)]}}


def test_saving_without_a_change_writes_no_row(admin_client, org):
    url = f"/admin/accounts/department/{org['dept']['legal'].pk}/change/"
    assert admin_client.post(url, form_data(admin_client, url)).status_code == 302
    assert config_rows() == []


def test_creating_and_deleting_a_region_is_audited(admin_client, org):
    data = {"code": "sz-nanshan", "name": "深圳市南山区", "is_rural": "on"}
    assert admin_client.post("/admin/accounts/region/add/", data).status_code == 302
    region = Region.objects.get(code="sz-nanshan")
    url = f"/admin/accounts/region/{region.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Region.objects.filter(code="sz-nanshan").exists()
    created, deleted = config_rows()
    assert created[:3] == ("admin", "accounts.region", str(region.pk))
    assert created[3]["action"] == "created"
    assert created[3]["changes"]["code"] == {"before": None, "after": "sz-nanshan"}
    assert created[3]["changes"]["is_rural"] == {"before": None, "after": "True"}
    assert deleted[:3] == ("admin", "accounts.region", str(region.pk))
    assert deleted[3]["action"] == "deleted"
    assert deleted[3]["changes"]["name"] == {"before": "深圳市南山区", "after": None}


def test_bulk_deleting_regions_audits_each(admin_client, org):
    extra = [Region.objects.create(code=f"r{i}", name=f"区{i}") for i in range(2)]
    response = admin_client.post(
        "/admin/accounts/region/",
        {"action": "delete_selected", "_selected_action": [r.pk for r in extra], "post": "yes"},
    )
    assert response.status_code == 302
    assert sorted((r[2], r[3]["action"]) for r in config_rows()) == sorted(
        (str(r.pk), "deleted") for r in extra
    )


def test_changing_an_approval_limit_is_audited(admin_client, org):
    limit = ApprovalLimit.objects.get(role=Role.AGENT)
    url = f"/admin/accounts/approvallimit/{limit.pk}/change/"
    before = str(limit.max_amount)
    assert admin_client.post(url, form_data(admin_client, url) | {"max_amount": "80.00"}).status_code == 302
    [row] = config_rows()
    assert row[1:3] == ("accounts.approvallimit", str(limit.pk))
    assert row[3]["changes"] == {"max_amount": {"before": before, "after": "80.00"}}


def test_changing_a_category_is_audited(admin_client, org):
    category = org["wrong_charge"]
    url = f"/admin/complaints/category/{category.pk}/change/"
    data = form_data(admin_client, url) | {"default_department": str(org["dept"]["legal"].pk)}
    assert admin_client.post(url, data).status_code == 302
    [row] = config_rows()
    assert row[1:3] == ("complaints.category", str(category.pk))
    assert row[3]["changes"] == {
        "default_department": {
            "before": str(org["dept"]["billing"].pk),
            "after": str(org["dept"]["legal"].pk),
        }
    }
    assert Category.objects.get(pk=category.pk).default_department == org["dept"]["legal"]


def test_a_users_role_and_department_change_is_audited(admin_client, org, people):
    agent = people["agent"]
    agent.date_joined = agent.date_joined.replace(microsecond=0)  # the form shows whole seconds
    agent.save(update_fields=["date_joined"])
    url = f"/admin/accounts/user/{agent.pk}/change/"
    data = form_data(admin_client, url) | {
        "role": Role.SUPERVISOR,
        "department": str(org["dept"]["legal"].pk),
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302
    [row] = config_rows()
    assert row[:3] == ("admin", "accounts.user", str(agent.pk))
    assert row[3]["changes"] == {
        "department": {
            "before": str(org["dept"]["customer_service"].pk),
            "after": str(org["dept"]["legal"].pk),
        },
        "role": {"before": "agent", "after": "supervisor"},
    }


def test_a_password_change_is_audited_without_the_hash(admin_client, people):
    agent = people["agent"]
    old_hash = agent.password
    url = f"/admin/accounts/user/{agent.pk}/password/"
    new = "a-much-Longer-passphrase-42"
    response = admin_client.post(url, {"password1": new, "password2": new})
    assert response.status_code == 302
    [row] = config_rows()
    assert row[3] == {
        "action": "password changed",
        "object": "agent",
        "changes": {"password": {"before": "changed", "after": "changed"}},
    }
    new_hash = User.objects.get(pk=agent.pk).password
    dumped = json.dumps(row[3])
    assert old_hash not in dumped
    assert new_hash not in dumped


def test_short_staff_passwords_are_refused(admin_client, people):
    url = f"/admin/accounts/user/{people['agent'].pk}/password/"
    before = User.objects.get(pk=people["agent"].pk).password
    response = admin_client.post(url, {"password1": "Short1!x", "password2": "Short1!x"})
    assert response.status_code == 200
    assert "This password is too short. It must contain at least 10 characters." in response.content.decode()
    assert User.objects.get(pk=people["agent"].pk).password == before
    assert config_rows() == []


def test_api_keys_created_changed_and_revoked_in_the_admin_are_audited(admin_client, people):
    data = {"name": "ivr", "channel": "hotline", "scope": "read", "rate_limit": ""}
    assert admin_client.post("/admin/api/apikey/add/", data).status_code == 302
    key = ApiKey.objects.get(name="ivr")
    url = f"/admin/api/apikey/{key.pk}/change/"
    assert admin_client.post(url, form_data(admin_client, url) | {"scope": "write"}).status_code == 302
    response = admin_client.post("/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    created, scoped, revoked = config_rows()
    assert created[:3] == ("admin", "api.apikey", str(key.pk))
    assert created[3]["action"] == "created"
    assert created[3]["changes"]["key_hash"] == {"before": "changed", "after": "changed"}
    assert created[3]["changes"]["scope"] == {"before": None, "after": "read"}
    assert scoped[3] == {
        "action": "changed",
        "object": str(key),
        "changes": {"scope": {"before": "read", "after": "write"}},
    }
    assert revoked[3]["action"] == "revoked"
    assert revoked[3]["changes"]["is_active"] == {"before": "True", "after": "False"}
    key.refresh_from_db()
    assert key.key_hash not in json.dumps([r[3] for r in config_rows()])


def test_api_keys_created_and_revoked_by_the_command_are_audited(db):
    call_command(
        "apikey", "create", "--name", "crm", "--channel", "web", stdout=StringIO(), stderr=StringIO()
    )
    call_command("apikey", "revoke", "crm", stdout=StringIO())
    call_command("apikey", "revoke", "crm", stdout=StringIO())  # already revoked: nothing new
    key = ApiKey.objects.get(name="crm")
    rows = config_rows()
    assert [(r[0], r[1], r[2], r[3]["action"]) for r in rows] == [
        ("command", "api.apikey", str(key.pk), "created"),
        ("command", "api.apikey", str(key.pk), "revoked"),
    ]
    assert rows[1][3]["changes"]["is_active"] == {"before": "True", "after": "False"}
    assert key.key_hash not in json.dumps(rows[0][3])


# --- SLA policies -----------------------------------------------------------------------------


@pytest.fixture
def policy(org):
    sla_bootstrap()
    return SlaPolicy.objects.order_by("pk").first()


def test_an_invalid_new_sla_policy_is_a_form_error_and_no_row(admin_client, policy):
    data = form_data(admin_client, f"/admin/sla/slapolicy/{policy.pk}/change/")
    data |= {"name": "broken", "start_on": "no-such-event", "target_minutes": "60"}
    count = SlaPolicy.objects.count()
    response = admin_client.post("/admin/sla/slapolicy/add/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {"start_on": ["unknown event"]}
    assert SlaPolicy.objects.count() == count
    assert not SlaPolicy.objects.filter(name="broken").exists()
    assert config_rows() == []


def test_an_invalid_sla_policy_edit_is_a_form_error_and_changes_nothing(admin_client, policy):
    url = f"/admin/sla/slapolicy/{policy.pk}/change/"
    data = form_data(admin_client, url) | {"warn_percent": "150", "stop_on": '["nope"]'}
    before = SlaPolicy.objects.values().get(pk=policy.pk)
    response = admin_client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "warn_percent": ["between 1 and 99"],
        "stop_on": ["unknown event"],
    }
    assert SlaPolicy.objects.values().get(pk=policy.pk) == before
    assert config_rows() == []


def test_a_valid_sla_policy_edit_is_audited_with_before_and_after(admin_client, policy):
    url = f"/admin/sla/slapolicy/{policy.pk}/change/"
    old = policy.target_minutes
    data = form_data(admin_client, url) | {"target_minutes": str(old + 30)}
    response = admin_client.post(url, data)
    assert response.status_code == 302
    [row] = config_rows()
    assert row[:3] == ("admin", "sla_policy", str(policy.pk))
    assert row[3] == {"before": {"target_minutes": old}, "after": {"target_minutes": old + 30}}
