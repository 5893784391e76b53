"""The web shell: health check, sign-in, and the start page counting the cases in the user's scope."""

from __future__ import annotations

import pytest
from django.utils import translation

from tousu.complaints import services as svc
from tousu.complaints.states import Status

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


@pytest.fixture
def three_cases(cases, people):
    """Two open cases registered by ``agent``, one by ``agent_other``."""
    return [
        cases.register(),
        cases.register(phone="13912345678"),
        cases.register(actor=people["agent_other"], phone="13712345678"),
    ]


def test_home_counts_open_cases_in_the_agents_scope(client, people, three_cases):
    client.force_login(people["agent"])
    response = client.get("/", **EN)
    assert response.status_code == 200
    assert response.context["open_total"] == 2
    html = response.content.decode()
    assert "<h1>Open cases in your scope: 2</h1>" in html
    assert "<tr><td>Registered</td><td>2</td></tr>" in html
    assert "<tr><td>Accepted</td><td>0</td></tr>" in html


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("agent", 2), ("agent_other", 1), ("supervisor", 3), ("inspector", 3), ("handler", 0), ("auditor", 0)],
)
def test_home_count_follows_each_roles_scope(client, people, three_cases, persona, expected):
    client.force_login(people[persona])
    response = client.get("/", **EN)
    assert response.status_code == 200
    assert response.context["open_total"] == expected
    assert f"<h1>Open cases in your scope: {expected}</h1>" in response.content.decode()


def test_home_counts_only_open_cases_by_status(client, people, cases):
    cases.make(Status.REGISTERED)
    cases.make(Status.ACCEPTED)
    cases.make(Status.WITHDRAWN)  # closed for good: not counted
    cases.make(Status.REJECTED)
    client.force_login(people["agent"])
    response = client.get("/", **EN)
    assert response.context["open_total"] == 2
    assert [(str(label), n) for label, n in response.context["rows"] if n] == [
        ("Registered", 1),
        ("Accepted", 1),
    ]


def test_home_counts_a_dispatched_case_for_the_lead_departments_handler(client, people, cases, org):
    c = cases.make(Status.ACCEPTED)
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=c.pk, lead_department_id=org["dept"]["billing"].pk
    )
    for persona, expected in [("handler", 1), ("handler_other", 0)]:
        client.force_login(people[persona])
        assert client.get("/", **EN).context["open_total"] == expected


def test_home_is_in_chinese_by_default(client, people, three_cases, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        heading = translation.gettext("Open cases in your scope")
    assert heading != "Open cases in your scope"  # the catalogue translates it
    client.force_login(people["agent"])
    html = client.get("/").content.decode()
    assert f"<h1>{heading}: 2</h1>" in html


def test_sign_in_with_the_right_password_goes_home(client, people):
    response = client.post(LOGIN, {"username": "agent", "password": "pw", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(people["agent"].pk)


def test_sign_in_with_a_wrong_password_shows_the_error_and_stays(client, people, unchanged):
    with unchanged():  # no last_login, nothing else either
        response = client.post(LOGIN, {"username": "agent", "password": "wrong", "next": "/"}, **EN)
    assert response.status_code == 200
    assert response.templates[0].name == "web/login.html"
    html = response.content.decode()
    assert '<p class="error">Your username and password didn\'t match. Please try again.</p>' in html
    assert '<input type="hidden" name="next" value="/">' in html
    assert "_auth_user_id" not in client.session
    assert client.get("/")["Location"] == "/accounts/login/?next=/"


def test_page_escapes_what_users_typed(client, people):
    """The home page shows no case text; it does show the user's display name, which must be escaped."""
    user = people["agent"]
    user.display_name = '<script>alert("x")</script>'
    user.save(update_fields=["display_name"])
    client.force_login(user)
    html = client.get("/", **EN).content.decode()
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
