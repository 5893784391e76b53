"""Configuration edited in the administration is audited: who changed which row, and each changed
field with its value before and after (``config.changed``). Secrets (password and key hashes,
signing secrets) are never copied into the log: their entry reads ``"changed"``.

    @admin.register(Department)
    class DepartmentAdmin(AuditedConfigAdmin): ...

The hooks are the admin's own (``save_form`` for the row as stored before the edit,
``save_related`` once the row and its many-to-many fields are written, ``delete_model`` and
``delete_queryset``), so a subclass that saves through a service in ``save_model`` is audited too.
Commands and admin actions that change configuration outside these hooks call ``config_audit``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models

from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.origin import Origin

SECRET = "changed"
_SECRET_MARKS = ("password", "hash", "secret", "token")

Snapshot = dict[str, Any]


def _is_secret(name: str) -> bool:
    return any(mark in name for mark in _SECRET_MARKS)


def config_snapshot(obj: models.Model | None) -> Snapshot:
    """The row's fields as plain text (foreign keys by id; many-to-many as sorted ids)."""
    if obj is None or obj.pk is None:
        return {}
    snap: Snapshot = {}
    for field in obj._meta.concrete_fields:
        snap[field.name] = field.value_to_string(obj)
    for m2m in obj._meta.many_to_many:
        snap[m2m.name] = sorted(str(pk) for pk in getattr(obj, m2m.name).values_list("pk", flat=True))
    return snap


def config_changes(before: Snapshot, after: Snapshot) -> dict[str, dict[str, Any]]:
    """``{field: {"before": …, "after": …}}`` for every field that differs; secrets as "changed"."""
    changes: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if _is_secret(name):
            changes[name] = {"before": SECRET, "after": SECRET}
        else:
            changes[name] = {"before": old, "after": new}
    return changes


def config_audit(
    *,
    actor: Any,
    obj: models.Model,
    action: str,
    before: Snapshot,
    after: Snapshot,
    origin: Origin,
) -> None:
    """Write one ``config.changed`` row for ``obj`` (``action``: created, changed, deleted,
    revoked…), unless nothing changed."""
    changes = config_changes(before, after)
    if not changes and action == "changed":
        return
    meta = obj._meta
    audit_record(
        actor=actor if getattr(actor, "pk", None) is not None else None,
        kind=AuditKind.CONFIG_CHANGED,
        object_type=f"{meta.app_label}.{meta.model_name}"[:40],
        object_id=str(obj.pk if obj.pk is not None else before.get(meta.pk.name, "")),
        origin=origin,
        payload={"action": action, "object": str(obj)[:200], "changes": changes},
    )


class AuditedConfigAdmin(admin.ModelAdmin):
    """A ModelAdmin whose additions, edits and deletions are audited with before/after values."""

    def save_form(self, request: Any, form: Any, change: bool) -> Any:
        obj = form.save(commit=False)
        before = config_snapshot(type(obj)._default_manager.filter(pk=obj.pk).first()) if change else {}
        obj._tousu_audit_before = before  # read back in save_related
        return obj

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(obj, "_tousu_audit_before", {})
        stored = type(obj)._default_manager.filter(pk=obj.pk).first()
        config_audit(
            actor=request.user,
            obj=stored or obj,
            action="changed" if change else "created",
            before=before,
            after=config_snapshot(stored),
            origin=Origin.from_request(request),
        )

    def delete_model(self, request: Any, obj: Any) -> None:
        before = config_snapshot(obj)
        pk = obj.pk
        super().delete_model(request, obj)
        obj.pk = pk
        config_audit(
            actor=request.user,
            obj=obj,
            action="deleted",
            before=before,
            after={},
            origin=Origin.from_request(request),
        )

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        rows = [(obj, config_snapshot(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)
        for obj, before in rows:
            obj.pk = before.get(obj._meta.pk.name)
            config_audit(
                actor=request.user,
                obj=obj,
                action="deleted",
                before=before,
                after={},
                origin=Origin.from_request(request),
            )
