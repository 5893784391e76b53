"""Who may write and approve knowledge articles. Writing: the owning department's handlers,
supervisors and managers, and administrators; approving: the owning department's supervisor or
manager, never the version's own author (four eyes)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap, Role
from tousu.common.errors import PermissionDenied
from tousu.knowledge.models import Article, ArticleVersion

WRITERS = frozenset({Role.HANDLER, Role.SUPERVISOR, Role.MANAGER})
APPROVERS = frozenset({Role.SUPERVISOR, Role.MANAGER})


def may_write(actor: User | None, department_id: int) -> bool:
    if actor is None or not actor.is_active:
        return False
    if actor.can(Cap.CONFIG_EDIT):
        return True
    return actor.role in WRITERS and actor.department_id == department_id


def may_approve(actor: User | None, article: Article) -> bool:
    return (
        actor is not None
        and actor.is_active
        and actor.role in APPROVERS
        and actor.department_id == article.owner_department_id
    )


def access_write(actor: User | None, department_id: int) -> None:
    if not may_write(actor, department_id):
        raise PermissionDenied(_("Only the owning department's staff may write its articles."))


def access_approve(actor: User | None, version: ArticleVersion) -> None:
    if not may_approve(actor, version.article):
        raise PermissionDenied(
            _("Only a supervisor of the owning department may approve or send back its articles.")
        )
    assert actor is not None
    if version.author_id == actor.pk:
        raise PermissionDenied(_("A version is approved by someone other than its author."))
