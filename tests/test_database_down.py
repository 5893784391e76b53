"""The database cannot be reached (a PostgreSQL restart): every page answers 503 with Retry-After,
JSON under /tmf-api/, and the outage is logged once, not a traceback per request (issue 9, point 12).

The outage is real: the connection is pointed at a port where nothing listens (PostgreSQL) or at a
file that cannot be opened (SQLite); the shared server is never stopped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from tousu.common import faults

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="an outage of the database server (SQLite is a file in-process)",
    ),
]


@pytest.fixture(autouse=True)
def _fresh_log_window():
    faults._last_logged = 0.0
    faults._suppressed = 0
    yield
    faults._last_logged = 0.0


@contextmanager
def database_down(tmp_path) -> Iterator[None]:
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["HOST"] = "127.0.0.1"
    connection.settings_dict["PORT"] = "9"  # discard: nothing listens there
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def test_pages_portal_readyz_and_api_answer_503_and_log_once(people, tmp_path, caplog):
    from tousu.api.keys import apikey_create

    _key, token = apikey_create(name="app", channel="app", scope="read")
    staff = Client(raise_request_exception=False)
    staff.force_login(people["agent"])
    anonymous = Client(raise_request_exception=False)
    caplog.set_level(logging.INFO)
    with database_down(tmp_path):
        answers = {
            path: (client.get(path, HTTP_ACCEPT_LANGUAGE="en") if path else None)
            for path, client in [
                ("/portal/file/", anonymous),
                ("/queues/mine/", staff),
            ]
        }
        api = anonymous.get(
            "/tmf-api/troubleTicket/v4/troubleTicket",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_ACCEPT_LANGUAGE="en",
        )
        # liveness stays up (restarting the web processes would not bring the database back);
        # readiness says why it cannot serve
        alive = anonymous.get("/healthz")
        # a sign-in: the form is posted, the user cannot be looked up
        login = anonymous.post(
            "/accounts/login/", {"username": "agent", "password": "pw"}, HTTP_ACCEPT_LANGUAGE="en"
        )
    for path, response in answers.items():
        assert response is not None
        assert (path, response.status_code, response["Retry-After"]) == (path, 503, "5")
        assert (
            "The service is briefly unavailable. Please try again in a few seconds."
            in response.content.decode()
        )
    assert (alive.status_code, alive.content) == (200, b"ok")
    assert (login.status_code, login["Retry-After"]) == (503, "5")
    assert (api.status_code, api["Retry-After"]) == (503, "5")
    assert api.json() == {
        "code": "unavailable",
        "reason": "Service unavailable",
        "message": "The service is briefly unavailable. Please try again in a few seconds.",
        "status": "503",
        "@type": "Error",
    }
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["tousu.faults"]
    assert errors[0].getMessage().startswith("database unavailable, answering 503 (OperationalError")
    assert errors[0].exc_info is None
    # the database is back: pages answer again
    assert anonymous.get("/healthz").status_code == 200


def test_readiness_fails_while_the_database_is_down(tmp_path):
    anonymous = Client(raise_request_exception=False)
    with database_down(tmp_path):
        ready = anonymous.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "fail"
    assert ready.json()["checks"]["database"]["status"] == "fail"


def test_an_outage_outside_the_view_is_a_503_too(rf, caplog):
    """``handler500`` (errors raised by middleware on the way out, e.g. saving the session)."""
    from django.db import OperationalError

    request = rf.get("/portal/")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = faults.server_error(request)
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = faults.server_error(request)
    assert response.status_code == 500
    assert "Retry-After" not in response
