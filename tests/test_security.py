"""Web hardening: the Content Security Policy on every page, no inline scripts or handlers in any
template, sessions, password rules, and HTTPS (HSTS, redirect) when TOUSU_HTTPS is on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

import tousu
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
ADMIN_STYLES = STRICT.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
SOURCE = Path(tousu.__file__).parent


def test_every_main_page_carries_the_content_security_policy(client, people, cases):
    complaint = cases.make(Status.ACCEPTED)
    anonymous = ["/accounts/login/", "/portal/", "/portal/file/", "/portal/track/", "/healthz", "/nope/"]
    for url in anonymous:
        response = client.get(url, **EN)
        assert response["Content-Security-Policy"] == STRICT, url
    people["supervisor"].is_staff = True
    people["supervisor"].save()
    client.force_login(people["supervisor"])
    assert client.get("/", **EN)["Content-Security-Policy"] == STRICT  # a redirect too
    staff = [
        "/register/",
        "/queues/all/",
        f"/cases/{complaint.pk}/",
        "/dashboard/",
        "/regulator/import/",
        f"/customers/{complaint.customer_id}/",
    ]
    for url in staff:
        response = client.get(url, **EN)
        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == STRICT, url
    assert client.get("/admin/", **EN)["Content-Security-Policy"] == ADMIN_STYLES
    assert client.get("/static/web/tousu.js")["Content-Security-Policy"] == STRICT


def _templates() -> list[Path]:
    found = sorted(SOURCE.glob("*/templates/**/*.html"))
    assert len(found) > 30  # the glob found the templates
    return found


def test_no_template_has_an_inline_script_or_event_handler():
    problems = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(SOURCE))
        for match in re.finditer(r"<script\b[^>]*>", text, flags=re.IGNORECASE):
            if "src=" not in match.group(0):
                problems.append(f"{name}: {match.group(0)}")
        for match in re.finditer(r"\s(on\w+|hx-on[:\w-]*)\s*=", text, flags=re.IGNORECASE):
            problems.append(f"{name}: {match.group(1)}=")
        if "javascript:" in text.lower():
            problems.append(f"{name}: javascript: URL")
        for match in re.finditer(r"<style\b|\sstyle\s*=", text, flags=re.IGNORECASE):
            problems.append(f"{name}: inline style {match.group(0).strip()}")  # style-src 'self' too
    assert problems == []


def test_the_pages_behaviour_comes_from_the_static_script(client, people):
    client.force_login(people["supervisor"])
    html = client.get("/queues/all/", **EN).content.decode()
    assert '<script src="/static/web/tousu.js" defer></script>' in html
    assert '<select name="language" data-submit-on-change aria-label="Language">' in html
    assert 'data-check-all="#bulk input[name=cases]"' in html
    script = (SOURCE / "web/static/web/tousu.js").read_text(encoding="utf-8")
    assert "data-submit-on-change" in script
    assert "data-check-all" in script
    assert "data-enter-does-not-submit" in script


# --- sessions and passwords ------------------------------------------------------------------------


def test_session_cookies_are_http_only_lax_and_end_with_the_browser(client, people):
    from django.conf import settings

    response = client.post("/accounts/login/", {"username": "agent", "password": "pw"}, **EN)
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == ""  # a browser-session cookie
    assert cookie["expires"] == ""
    assert settings.SESSION_COOKIE_AGE == 12 * 3600  # and the server forgets it after that


def test_signing_in_gives_a_new_session_key(client, people):
    client.get("/accounts/login/")
    session = client.session
    session["planted"] = "x"
    session.save()
    before = session.session_key
    client.post("/accounts/login/", {"username": "agent", "password": "pw"}, **EN)
    assert client.session.session_key != before


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Tousu-9x", "This password is too short. It must contain at least 10 characters."),
        ("password123", "This password is too common."),
        ("4839201746351", "This password is entirely numeric."),
    ],
)
def test_weak_staff_passwords_are_refused(people, password, message):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user=people["agent"])
    assert message in refused.value.messages


def test_a_long_passphrase_is_accepted(people):
    assert validate_password("quiet-harbour-lantern-42", user=people["agent"]) is None


# --- HTTPS -------------------------------------------------------------------------------------------


def _settings_with(tmp_path: Path, **variables: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env.update({"DJANGO_SETTINGS_MODULE": "tousu.settings", "TOUSU_DATA_DIR": str(tmp_path / "data")})
    env.update(variables)
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ('SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'SECURE_REDIRECT_EXEMPT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_PROXY_SSL_HEADER')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_https_turns_on_hsts_and_the_redirect_except_for_the_health_check(tmp_path):
    assert _settings_with(tmp_path, TOUSU_HTTPS="yes") == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_REDIRECT_EXEMPT": ["^healthz$", "^readyz$"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    assert _settings_with(tmp_path) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_REDIRECT_EXEMPT": [],
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_with_https_plain_requests_are_redirected_and_secure_ones_get_hsts(settings, client, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = client.get("/accounts/login/?next=/queues/all/")
    assert (plain.status_code, plain["Location"]) == (
        301,
        "https://testserver/accounts/login/?next=/queues/all/",
    )
    assert client.get("/healthz").status_code == 200  # load balancers probe over plain HTTP
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"


def test_a_password_change_ends_the_users_other_sessions(client, people):
    assert client.post("/accounts/login/", {"username": "agent", "password": "pw"}, **EN).status_code == 302
    assert client.get("/queues/mine/", **EN).status_code == 200
    agent = people["agent"]
    agent.set_password("quiet-harbour-lantern-42")
    agent.save(update_fields=["password"])
    response = client.get("/queues/mine/", **EN)
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/queues/mine/")
