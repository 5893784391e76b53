"""Sign-in with a lockout after repeated failures, sign-out, and the return to the page asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.utils import translation

from tousu.accounts.models import User
from tousu.accounts.services import (
    LOCK_MINUTES,
    MAX_FAILURES,
    AccountLocked,
    SignInRefused,
    auth_sign_in,
)
from tousu.audit.models import AuditEvent, AuditKind

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
BAD = "Your username and password didn't match. Please try again."


def locked(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. The account is locked; try again in {minutes} {unit}."


@pytest.fixture(autouse=True)
def _keep_active_language():
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def at(time_machine):
    """``at(minutes)``: the clock stands still at NOW + minutes."""

    def move(minutes: float = 0) -> datetime:
        moment = NOW + timedelta(minutes=minutes)
        time_machine.move_to(moment, tick=False)
        return moment

    move(0)
    return move


def sign_in(client, username: str, password: str, next_url: str = ""):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": next_url}, HTTP_ACCEPT_LANGUAGE="en"
    )


def error_of(response) -> str:
    html = response.content.decode()
    start = html.index('<p class="error">') + len('<p class="error">')
    return unescape(html[start : html.index("</p>", start)])


def denials() -> list[tuple[str | None, str, str, dict]]:
    return [
        (e.actor.username if e.actor else None, e.object_type, e.via, e.payload)
        for e in AuditEvent.objects.filter(kind=AuditKind.ACCESS_DENIED).order_by("created_at", "id")
    ]


def lock_state(username: str) -> tuple[int, datetime | None]:
    user = User.objects.get(username=username)
    return user.failed_logins, user.locked_until


def test_the_sign_in_page_shows_the_form_and_keeps_next(client, people):
    response = client.get(LOGIN + "?next=/register/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<input type="hidden" name="next" value="/register/">' in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'class="error"' not in html
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_the_right_password_signs_in_and_returns_to_the_page_asked_for(client, people, at):
    response = sign_in(client, "agent", "pw", "/register/?phone=138")
    assert (response.status_code, response["Location"]) == (302, "/register/?phone=138")
    assert client.session["_auth_user_id"] == str(people["agent"].pk)
    assert User.objects.get(username="agent").last_login == NOW
    assert denials() == []


def test_without_next_the_user_goes_home(client, people, at):
    response = sign_in(client, "agent", "pw")
    assert (response.status_code, response["Location"]) == (302, "/")


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/x", "http://testserver.evil.example/", "javascript:alert(1)"],
)
def test_next_pointing_to_another_host_is_ignored(client, people, at, next_url):
    page = client.get(LOGIN, {"next": next_url}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<input type="hidden" name="next" value="">' in page
    response = sign_in(client, "agent", "pw", next_url)
    assert (response.status_code, response["Location"]) == (302, "/")


def test_a_wrong_password_is_refused_counted_and_audited(client, people, at):
    response = sign_in(client, "agent", "nope", "/register/")
    html = response.content.decode()
    assert response.status_code == 200
    assert error_of(response) == BAD
    assert '<input type="hidden" name="next" value="/register/">' in html
    assert 'value="agent"' in html  # the username is kept, the password is not
    assert "nope" not in html
    assert "_auth_user_id" not in client.session
    assert lock_state("agent") == (1, None)
    assert denials() == [("agent", "user", "web", {"reason": "bad password"})]
    assert AuditEvent.objects.get().object_id == str(people["agent"].pk)


def test_an_unknown_username_gets_the_same_answer_and_no_audit_actor(client, people, at):
    known = sign_in(client, "agent", "nope")
    unknown = sign_in(client, "nobody", "nope")
    assert (unknown.status_code, error_of(unknown)) == (known.status_code, error_of(known))
    assert denials() == [
        ("agent", "user", "web", {"reason": "bad password"}),
        (None, "user", "web", {"reason": "bad password"}),
    ]
    unknown_row = AuditEvent.objects.filter(actor=None).get()
    assert unknown_row.actor_label == "web"
    assert "nobody" not in unknown_row.object_id  # a keyed hash, never the typed name


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, people, at):
    for attempt in range(1, MAX_FAILURES):
        at(attempt)
        assert error_of(sign_in(client, "agent", f"wrong{attempt}")) == BAD
    assert lock_state("agent") == (4, None)

    fifth = at(5)
    response = sign_in(client, "agent", "wrong5")
    assert error_of(response) == locked(15)
    assert lock_state("agent") == (5, fifth + timedelta(minutes=LOCK_MINUTES))

    at(6)  # the right password does not help while locked
    response = sign_in(client, "agent", "pw")
    assert error_of(response) == locked(14)
    assert "_auth_user_id" not in client.session
    assert lock_state("agent") == (5, fifth + timedelta(minutes=15))

    at(19.5)
    assert error_of(sign_in(client, "agent", "pw")) == locked(1)

    assert [d[3]["reason"] for d in denials()] == [
        *["bad password"] * 5,
        "locked",  # the lockout itself
        "locked",  # the attempt at minute 6
        "locked",  # the attempt at minute 19.5
    ]
    assert {d[0] for d in denials()} == {"agent"}

    at(20)  # fifteen minutes after the fifth failure
    response = sign_in(client, "agent", "pw", "/register/")
    assert (response.status_code, response["Location"]) == (302, "/register/")
    assert client.session["_auth_user_id"] == str(people["agent"].pk)
    assert lock_state("agent") == (0, None)
    assert len(denials()) == 8


def test_a_lock_that_ran_out_starts_counting_again(client, people, at):
    for _attempt in range(MAX_FAILURES):
        sign_in(client, "agent", "wrong")
    at(LOCK_MINUTES)
    assert error_of(sign_in(client, "agent", "wrong")) == BAD
    assert lock_state("agent") == (1, None)


def test_a_success_resets_the_count(client, people, at):
    for _attempt in range(MAX_FAILURES - 1):
        sign_in(client, "agent", "wrong")
    assert sign_in(client, "agent", "pw").status_code == 302
    assert lock_state("agent") == (0, None)
    client.logout()
    assert error_of(sign_in(client, "agent", "wrong")) == BAD  # four more would be needed again
    assert lock_state("agent") == (1, None)


def test_the_lock_is_per_account(client, people, at):
    for _attempt in range(MAX_FAILURES):
        sign_in(client, "agent", "wrong")
    assert sign_in(client, "agent_other", "pw").status_code == 302
    assert lock_state("agent_other") == (0, None)


def test_an_unknown_username_locks_like_a_real_one(client, people, at):
    """Five failures answer the same for a real and an invented name: nothing tells them apart."""
    answers: dict[str, list[str]] = {"agent": [], "nobody": []}
    for minute in range(MAX_FAILURES + 1):
        at(minute)
        for name, seen in answers.items():
            seen.append(error_of(sign_in(client, name, "wrong")))
    assert answers["agent"] == answers["nobody"] == [BAD] * 4 + [locked(15), locked(14)]
    at(4 + LOCK_MINUTES)
    assert error_of(sign_in(client, "nobody", "wrong")) == BAD
    assert [d[3]["reason"] for d in denials() if d[0] is None] == [
        *["bad password"] * 5,
        "locked",
        "locked",
        "bad password",
    ]


def test_an_empty_form_says_what_is_missing_and_writes_nothing(client, people, unchanged):
    with unchanged():
        response = client.post(LOGIN, {"username": "", "password": ""}, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<ul class="errorlist"') == 2
    assert "This field is required." in html
    assert AuditEvent.objects.count() == 0


def test_a_disabled_account_is_refused_like_a_wrong_password(client, people, at):
    User.objects.filter(username="agent").update(is_active=False)
    assert error_of(sign_in(client, "agent", "pw")) == BAD
    assert lock_state("agent") == (1, None)


def test_the_service_raises_typed_errors(rf, people, at):
    request = rf.post(LOGIN, REMOTE_ADDR="10.0.0.7", HTTP_USER_AGENT="pytest")
    assert auth_sign_in(request=request, username="agent", password="pw") == people["agent"]
    with pytest.raises(SignInRefused) as refused:
        auth_sign_in(request=request, username="agent", password="wrong")
    assert type(refused.value) is SignInRefused
    assert refused.value.message == BAD
    for _attempt in range(MAX_FAILURES - 1):
        with pytest.raises(SignInRefused):
            auth_sign_in(request=request, username="agent", password="wrong")
    with pytest.raises(AccountLocked) as lock:
        auth_sign_in(request=request, username="agent", password="pw")
    assert (lock.value.minutes_left, lock.value.until) == (15, NOW + timedelta(minutes=15))
    row = AuditEvent.objects.order_by("-id").first()
    assert (row.ip, row.user_agent, row.via) == ("10.0.0.7", "pytest", "web")


def test_sign_out_ends_the_session(client, people):
    client.force_login(people["agent"])
    response = client.post("/accounts/logout/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_the_header_shows_name_role_and_department(client, people):
    client.force_login(people["handler"])
    html = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="who">handler · Department handler · 计费结算部</span>' in html


# --- one sign-in path: the admin's login page, the per-address throttle, success audited --------

ADMIN_LOGIN = "/admin/login/"


def admin_sign_in(client, username: str, password: str, **extra):
    return client.post(
        ADMIN_LOGIN + "?next=/admin/",
        {"username": username, "password": password},
        HTTP_ACCEPT_LANGUAGE="en",
        **extra,
    )


def test_the_admin_login_page_is_the_staff_sign_in(client, people, at):
    people["admin"].is_staff = True
    people["admin"].save(update_fields=["is_staff"])
    page = client.get(ADMIN_LOGIN + "?next=/admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert '<input type="hidden" name="next" value="/admin/">' in page.content.decode()
    response = admin_sign_in(client, "admin", "pw")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200
    row = AuditEvent.objects.get()
    assert (row.kind, row.actor, row.object_type, row.object_id, row.via) == (
        AuditKind.SIGNED_IN,
        people["admin"],
        "user",
        str(people["admin"].pk),
        "web",
    )


def test_admin_login_failures_count_lock_and_are_audited(client, people, at):
    for attempt in range(1, MAX_FAILURES):
        at(attempt)
        assert error_of(admin_sign_in(client, "admin", "wrong")) == BAD
    assert lock_state("admin") == (4, None)
    at(5)
    assert error_of(admin_sign_in(client, "admin", "wrong")) == locked(15)
    at(6)
    response = admin_sign_in(client, "admin", "pw")  # the right password, but locked
    assert error_of(response) == locked(14)
    assert "_auth_user_id" not in client.session
    assert lock_state("admin") == (5, NOW + timedelta(minutes=5 + LOCK_MINUTES))
    assert [d[3]["reason"] for d in denials()] == [*["bad password"] * 5, "locked", "locked"]
    assert {d[0] for d in denials()} == {"admin"}
    assert not AuditEvent.objects.filter(kind=AuditKind.SIGNED_IN).exists()


def test_the_staff_and_admin_pages_share_one_failure_count(client, people, at):
    for _attempt in range(2):
        sign_in(client, "admin", "wrong")
        admin_sign_in(client, "admin", "wrong")
    assert lock_state("admin") == (4, None)
    assert error_of(admin_sign_in(client, "admin", "wrong")) == locked(15)


def test_one_address_failing_across_many_usernames_is_throttled(client, people, at, settings):
    settings.TOUSU_SIGN_IN_FAILURES_PER_ADDRESS = 3
    for name in ("agent", "handler", "nobody"):
        assert error_of(sign_in(client, name, "wrong")) == BAD
    # Every account is below its own lockout, yet the fourth try from this address is refused,
    # even with the right password, and on the admin page too.
    assert [lock_state(n) for n in ("agent", "handler")] == [(1, None), (1, None)]
    refused = sign_in(client, "supervisor", "pw")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "900"  # NOW is on a 15-minute boundary
    assert error_of(refused) == (
        "Too many failed sign-in attempts from your network. Try again in 15 minutes."
    )
    assert "_auth_user_id" not in client.session
    assert admin_sign_in(client, "admin", "pw").status_code == 429
    assert lock_state("supervisor") == (0, None)  # the refused tries touched no account
    throttled = AuditEvent.objects.filter(payload__reason="address throttled").order_by("id")
    assert [(e.object_type, e.object_id, e.actor) for e in throttled] == [("address", "127.0.0.1", None)] * 2
    assert "supervisor" not in str(throttled[0].payload)  # a keyed hash of the name only

    # Another address is not affected; and after the window this one may try again.
    other = client.post(
        LOGIN, {"username": "supervisor", "password": "pw"}, REMOTE_ADDR="10.1.2.3", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert other.status_code == 302
    client.logout()
    at(15)
    assert sign_in(client, "supervisor", "pw").status_code == 302


def test_successful_sign_ins_do_not_count_toward_the_address_throttle(client, people, at, settings):
    settings.TOUSU_SIGN_IN_FAILURES_PER_ADDRESS = 2
    for name in ("agent", "handler", "supervisor", "manager"):
        assert sign_in(client, name, "pw").status_code == 302
        client.logout()
    assert [e.actor.username for e in AuditEvent.objects.filter(kind=AuditKind.SIGNED_IN).order_by("id")] == [
        "agent",
        "handler",
        "supervisor",
        "manager",
    ]
