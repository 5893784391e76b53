"""Saved queue views: a user's own, or shared with their team (department).

A view is a name, a queue and the queue page's filters and order (its query string). Anyone who
reads cases keeps views of their own; a view shared with a department is listed for everyone of
that department and changed only by its owner or by a supervisor of that department. A view holds
no personal data: a phone number searched for, and the session token that stands for one, are
never stored. Each write records who made it and through which channel."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.models import SavedView
from tousu.complaints.queues import QUEUES, TICKET_RE

# The query-string keys a view keeps: the queue page's filters, its order and its page size.
VIEW_KEYS = (
    "q",
    "status",
    "level",
    "category",
    "channel",
    "department",
    "region",
    "registered_from",
    "registered_to",
    "sort",
    "size",
)
MAX_NAME = 60
MAX_QUERY = 500


def _require_viewer(actor: User) -> None:
    if not actor.can(Cap.CASE_VIEW):
        raise PermissionDenied(
            _("Your role (%(role)s) may not do this: %(action)s.")
            % {"role": actor.get_role_display(), "action": Cap.CASE_VIEW.label}
        )


def _looks_like_phone(text: str) -> bool:
    return sum(c.isdigit() for c in text) >= 7 and not TICKET_RE.match(text.strip())


def saved_view_query(query: str) -> str:
    """``query`` reduced to what a view keeps (``VIEW_KEYS``, non-empty values, in that order),
    without a phone-number search."""
    given = QueryDict(query)
    kept = QueryDict(mutable=True)
    for key in VIEW_KEYS:
        values = [v.strip() for v in given.getlist(key) if v.strip()]
        if key == "q":
            values = [v for v in values if not _looks_like_phone(v)]
        if values:
            kept.setlist(key, values[-1:])
    text = kept.urlencode()
    if len(text) > MAX_QUERY:
        raise ValidationError(_("These filters are too long to save."), fields={"query": "too long"})
    return text


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError(_("Give the view a name."), fields={"name": "required"})
    if len(name) > MAX_NAME:
        raise ValidationError(
            _("A view's name has at most %(max)s characters.") % {"max": MAX_NAME},
            fields={"name": "too long"},
        )
    return name


def _clean_queue(queue: str) -> str:
    if queue not in QUEUES:
        raise ValidationError(_("No such queue: %(name)s.") % {"name": queue}, fields={"queue": "unknown"})
    return queue


def saved_views_visible_q(actor: User) -> Q:
    """The views the actor sees: their own, and those shared with their department."""
    q = Q(owner_id=actor.pk)
    if actor.department_id is not None:
        q |= Q(department_id=actor.department_id)
    return q


def saved_view_editable(actor: User, view: SavedView) -> bool:
    """The owner edits their view; a supervisor of the team also edits a view shared with it."""
    if view.owner_id == actor.pk:
        return True
    return (
        view.department_id is not None
        and view.department_id == actor.department_id
        and actor.can(Cap.CASE_SUPERVISE)
    )


def _save(view: SavedView, *, actor: User, origin: Origin, fields: list[str] | None = None) -> None:
    view.updated_at = timezone.now()
    view.updated_by = actor
    view.updated_via = origin.via[:60]
    try:
        with transaction.atomic():  # a savepoint: the name clash is reported, the transaction lives on
            if fields is None:
                view.save()
            else:
                view.save(update_fields=[*fields, "updated_at", "updated_by", "updated_via"])
    except IntegrityError:
        raise ValidationError(
            _("A view named “%(name)s” already exists.") % {"name": view.name}, fields={"name": "taken"}
        ) from None


@transaction.atomic
def saved_view_create(
    *, actor: User, name: str, queue: str, query: str, shared: bool = False, origin: Origin = SYSTEM
) -> SavedView:
    """Save the actor's view of ``queue`` (``query``: the queue page's query string); ``shared``:
    listed for the actor's whole department."""
    _require_viewer(actor)
    view = SavedView(
        owner=actor,
        name=_clean_name(name),
        queue=_clean_queue(queue),
        query=saved_view_query(query),
        department_id=_shared_department(actor, shared),
    )
    _save(view, actor=actor, origin=origin)
    return view


def _shared_department(actor: User, shared: bool) -> int | None:
    if not shared:
        return None
    if actor.department_id is None:
        raise ValidationError(
            _("You belong to no department: there is no team to share this view with."),
            fields={"shared": "no department"},
        )
    return actor.department_id


def _lock_editable(actor: User, view_id: int) -> SavedView:
    _require_viewer(actor)
    view = SavedView.objects.select_for_update().filter(saved_views_visible_q(actor), pk=view_id).first()
    if view is None:  # not theirs and not shared with them: say no more than that
        raise NotFound(_("No such view."))
    if not saved_view_editable(actor, view):
        raise PermissionDenied(
            _("Only the owner of “%(name)s” or a supervisor of its team may change it.") % {"name": view.name}
        )
    return view


@transaction.atomic
def saved_view_update(
    *,
    actor: User,
    view_id: int,
    name: str | None = None,
    queue: str | None = None,
    query: str | None = None,
    shared: bool | None = None,
    origin: Origin = SYSTEM,
) -> SavedView:
    """Rename a view, give it new filters (``queue`` and ``query``), or share or unshare it (only
    its owner shares, with their own department). ``None``: leave as it is."""
    view = _lock_editable(actor, view_id)
    fields: list[str] = []
    if name is not None:
        view.name = _clean_name(name)
        fields.append("name")
    if queue is not None:
        view.queue = _clean_queue(queue)
        fields.append("queue")
    if query is not None:
        view.query = saved_view_query(query)
        fields.append("query")
    if shared is not None and shared != (view.department_id is not None):
        if view.owner_id != actor.pk:
            raise PermissionDenied(
                _("Only the owner of “%(name)s” may share or unshare it.") % {"name": view.name}
            )
        view.department_id = _shared_department(actor, shared)
        fields.append("department")
    if fields:
        _save(view, actor=actor, origin=origin, fields=fields)
    return view


@transaction.atomic
def saved_view_delete(*, actor: User, view_id: int, origin: Origin = SYSTEM) -> None:
    """Delete a view (its owner, or a supervisor of the team it is shared with). A shared view's
    deletion is recorded in the audit log: the row that said who last changed it is gone."""
    view = _lock_editable(actor, view_id)
    if view.department_id is not None:
        audit_record(
            actor=actor,
            kind=AuditKind.CONFIG_CHANGED,
            object_type="saved_view",
            object_id=view.pk,
            origin=origin,
            payload={
                "deleted": True,
                "name": view.name,
                "owner_id": view.owner_id,
                "department_id": view.department_id,
                "queue": view.queue,
                "query": view.query,
            },
        )
    view.delete()


def saved_views_for(actor: User) -> list[SavedView]:
    """The views listed beside the actor's queues: their own first, then their team's, by name."""
    if not actor.can(Cap.CASE_VIEW):
        return []
    views = list(SavedView.objects.filter(saved_views_visible_q(actor)).select_related("owner"))
    return sorted(views, key=lambda v: (v.owner_id != actor.pk, v.name, v.pk))
