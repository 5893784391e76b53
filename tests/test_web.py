"""The web shell: health check, sign-in, and the start page counting the cases in the user's scope."""

from __future__ import annotations

import pytest
from django.utils import translation

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _keep_active_language():
    """Requests through LocaleMiddleware activate a language for the thread; put the old one back."""
    with translation.override(translation.get_language()):
        yield


def test_healthz_says_ok_and_is_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"] == "text/plain"
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_healthz_needs_no_sign_in(client, people):
    assert client.get("/healthz").status_code == 200


def test_home_sends_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize(
    ("persona", "target"),
    [
        ("agent", "/queues/mine/"),
        ("handler", "/work/"),
        ("visitor", "/return-visits/"),
        ("inspector", "/quality/"),
        ("supervisor", "/dashboard/"),
        ("manager", "/dashboard/"),
        ("auditor", "/admin/"),
        ("admin", "/admin/"),
    ],
)
def test_home_sends_each_role_to_its_start_page(client, people, persona, target):
    client.force_login(people[persona])
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, target)


def test_sign_in_with_the_right_password_goes_home(client, people):
    response = client.post(LOGIN, {"username": "agent", "password": "pw", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(people["agent"].pk)


def test_sign_in_with_a_wrong_password_shows_the_error_and_stays(client, people):
    response = client.post(LOGIN, {"username": "agent", "password": "wrong", "next": "/"}, **EN)
    agent = type(people["agent"]).objects.get(username="agent")
    assert (agent.last_login, agent.failed_logins) == (None, 1)  # the failure is counted, nobody signed in
    assert response.status_code == 200
    assert response.templates[0].name == "web/login.html"
    html = response.content.decode()
    assert '<p class="error">Your username and password didn\'t match. Please try again.</p>' in html
    assert '<input type="hidden" name="next" value="/">' in html
    assert "_auth_user_id" not in client.session
    assert client.get("/")["Location"] == "/accounts/login/?next=/"
