"""The personal-data inventory is complete: every text, e-mail, JSON or file field of every Tousu
model is classified, and erasure handles every model that holds personal data."""

from __future__ import annotations

from django.apps import apps
from django.db import models

from tousu.privacy.erasure import ERASURE_HANDLERS, HANDLED_MODELS
from tousu.privacy.registry import NOT_PERSONAL, REGISTRY

_CAN_HOLD_TEXT = (
    models.CharField,
    models.TextField,
    models.JSONField,
    models.FileField,
    models.GenericIPAddressField,
)


def _fields_that_can_hold_personal_data() -> set[str]:
    found = set()
    for model in apps.get_models():
        if not model.__module__.startswith("tousu."):
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, _CAN_HOLD_TEXT) and not f.choices:
                found.add(f"{model._meta.label}.{f.name}")
    return found


def test_every_field_that_can_hold_personal_data_is_classified():
    registered = {p.where for p in REGISTRY}
    unclassified = _fields_that_can_hold_personal_data() - registered - set(NOT_PERSONAL)
    assert unclassified == set(), "add these to tousu/privacy/registry.py (REGISTRY or NOT_PERSONAL)"


def test_the_inventory_names_only_real_fields_and_each_once():
    real = _fields_that_can_hold_personal_data()
    wheres = [p.where for p in REGISTRY]
    assert len(wheres) == len(set(wheres))
    assert set(wheres) - real == {"notifications.CustomerLanguage.language"}  # a choice field, listed anyway
    assert set(NOT_PERSONAL) - real == set()
    assert set(wheres) & set(NOT_PERSONAL) == set()


def test_erasure_handles_every_model_of_the_inventory():
    assert {p.model for p in REGISTRY} - HANDLED_MODELS == set()
    assert set(ERASURE_HANDLERS) == {"api.TicketAttributes", "portal.TrackingCode"}
