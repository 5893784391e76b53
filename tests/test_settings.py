"""Configuration from TOUSU_* variables: a bad value stops start-up with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tousu.common.env import env_bool, env_choice, env_int, env_list, env_str, env_time_zone

# --- the command line refuses to start --------------------------------------------------------


# The child imports the same ``tousu`` as the tests (a relative PYTHONPATH would not follow cwd).
SOURCE = str(Path(__file__).resolve().parent.parent / "src")


def run_check(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env["PYTHONPATH"] = SOURCE
    env["DJANGO_SETTINGS_MODULE"] = "tousu.settings"
    env["TOUSU_DATA_DIR"] = str(tmp_path / "data")
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "tousu.cli", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_good_configuration_passes_the_check(tmp_path):
    from django.utils import timezone

    from tousu.sla.calendars import year_is_covered

    result = run_check(tmp_path, TOUSU_DEBUG="yes", TOUSU_TIME_ZONE="Asia/Urumqi", TOUSU_LANGUAGE="en")
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    year = timezone.localdate().year
    if all(year_is_covered(y) for y in (year, year + 1)):
        assert result.stdout == "System check identified no issues (0 silenced).\n"
    else:  # the only thing an administrator is told: holiday data runs out
        assert "(tousu.W001) The chinesecalendar package has no public-holiday data for" in result.stderr
        assert "System check identified 1 issue (0 silenced)." in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TOUSU_DEBUG", "maybe", "TOUSU_DEBUG must be one of 1/0, true/false, yes/no, on/off; got 'maybe'"),
        ("TOUSU_DB_CONN_MAX_AGE", "abc", "TOUSU_DB_CONN_MAX_AGE must be a whole number; got 'abc'"),
        ("TOUSU_DB_CONN_MAX_AGE", "-5", "TOUSU_DB_CONN_MAX_AGE must be at least 0; got -5"),
        (
            "TOUSU_TIME_ZONE",
            "Mars/Base",
            "TOUSU_TIME_ZONE must be an IANA time zone such as Asia/Shanghai; got 'Mars/Base'",
        ),
        ("TOUSU_LANGUAGE", "fr", "TOUSU_LANGUAGE must be one of zh-hans, en; got 'fr'"),
        ("TOUSU_DATABASE_URL", "mysql://x/y", "TOUSU_DATABASE_URL must name a SQLite or PostgreSQL database"),
        ("TOUSU_SECRET_KEY", "short", "TOUSU_SECRET_KEY must be at least 32 characters long"),
        ("TOUSU_NOTIFY_MAX_ATTEMPTS", "0", "TOUSU_NOTIFY_MAX_ATTEMPTS must be at least 1; got 0"),
        ("TOUSU_WORKER_INTERVAL_MS", "fast", "TOUSU_WORKER_INTERVAL_MS must be a whole number; got 'fast'"),
        (
            "TOUSU_LOG_LEVEL",
            "verbose",
            "TOUSU_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR; got 'verbose'",
        ),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(tmp_path, variable, value, message):
    result = run_check(tmp_path, **{variable: value})
    assert result.returncode == 2
    assert result.stderr == f"tousu: configuration error: {message}\n"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def public_url(tmp_path: Path, **variables: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env.update(
        DJANGO_SETTINGS_MODULE="tousu.settings",
        TOUSU_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=SOURCE,
        **variables,
    )
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.TOUSU_PUBLIC_URL)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("variables", "url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"TOUSU_PORT": "9100"}, "http://127.0.0.1:9100"),
        ({"TOUSU_HOST": "0.0.0.0", "TOUSU_PORT": "9100"}, "http://127.0.0.1:9100"),
        ({"TOUSU_HOST": "tousu.example.cn", "TOUSU_PORT": "80"}, "http://tousu.example.cn:80"),
        ({"TOUSU_HOST": "::1", "TOUSU_PORT": "8080"}, "http://[::1]:8080"),
        ({"TOUSU_PORT": "9100", "TOUSU_PUBLIC_URL": "https://ts.example.cn/"}, "https://ts.example.cn"),
    ],
)
def test_the_public_url_follows_the_port_when_unset(tmp_path, variables, url):
    assert public_url(tmp_path, **variables) == url


def test_a_bad_port_stops_start_up_naming_it(tmp_path):
    result = run_check(tmp_path, TOUSU_PORT="80000")
    assert result.returncode == 2
    assert result.stderr == "tousu: configuration error: TOUSU_PORT must be at most 65535; got 80000\n"


def test_bad_database_url_names_the_variable(tmp_path):
    result = run_check(tmp_path, TOUSU_DATABASE_URL="not a url")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "tousu: configuration error: TOUSU_DATABASE_URL must look like sqlite:///path/to/db.sqlite3 "
        "or postgres://user@host:5432/name; got 'not a url'"
    )
    assert "Traceback" not in result.stderr


def test_bad_database_url_error_hides_the_password(tmp_path):
    result = run_check(tmp_path, TOUSU_DATABASE_URL="postgresql://tousu:s3cret@db:notaport/tousu")
    assert result.returncode == 2
    assert "got 'postgresql://tousu:***@db:notaport/tousu'" in result.stderr
    assert "s3cr" not in result.stderr
    assert "Traceback" not in result.stderr


def test_data_dir_that_is_a_file_names_the_variable(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    result = run_check(tmp_path, TOUSU_DATA_DIR=str(tmp_path / "taken"))
    assert (result.returncode, result.stderr) == (
        2,
        f"tousu: configuration error: TOUSU_DATA_DIR: {tmp_path / 'taken'} is a file, not a folder\n",
    )


def test_sqlite_file_under_a_file_names_the_database_url(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    result = run_check(
        tmp_path,
        TOUSU_SECRET_KEY="k" * 40,
        TOUSU_DATABASE_URL=f"sqlite:///{tmp_path / 'taken' / 'db.sqlite3'}",
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"tousu: configuration error: TOUSU_DATABASE_URL: {tmp_path / 'taken'} is a file, not a folder\n",
    )


def test_refused_start_up_writes_nothing(tmp_path):
    result = run_check(tmp_path, TOUSU_DEBUG="maybe")
    assert result.returncode == 2
    assert list(tmp_path.iterdir()) == []  # no data folder, no secret key, no database


# --- the readers ----------------------------------------------------------------------------------

VAR = "TOUSU_TEST_VARIABLE"


@pytest.fixture
def unset(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)


@pytest.mark.parametrize("value", ["1", "true", "True", "YES", "on", " yes "])
def test_env_bool_true(monkeypatch, value):
    monkeypatch.setenv(VAR, value)
    assert env_bool(VAR, False) is True


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "no", "off", "", "  "])
def test_env_bool_false(monkeypatch, value):
    monkeypatch.setenv(VAR, value)
    assert env_bool(VAR, True) is False


def test_env_bool_default_when_unset(unset):
    assert env_bool(VAR, True) is True
    assert env_bool(VAR, False) is False


@pytest.mark.parametrize("value", ["maybe", "2", "y", "ja"])
def test_env_bool_refuses_anything_else(monkeypatch, value):
    monkeypatch.setenv(VAR, value)
    with pytest.raises(ImproperlyConfigured) as info:
        env_bool(VAR, False)
    assert str(info.value) == f"{VAR} must be one of 1/0, true/false, yes/no, on/off; got {value!r}"


def test_env_int(monkeypatch, unset):
    assert env_int(VAR, 60) == 60
    monkeypatch.setenv(VAR, "")
    assert env_int(VAR, 60) == 60
    monkeypatch.setenv(VAR, " 42 ")
    assert env_int(VAR, 60, minimum=0, maximum=42) == 42
    monkeypatch.setenv(VAR, "0")
    assert env_int(VAR, 60, minimum=0) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", f"{VAR} must be a whole number; got 'abc'"),
        ("4.5", f"{VAR} must be a whole number; got '4.5'"),
        ("-1", f"{VAR} must be at least 0; got -1"),
        ("101", f"{VAR} must be at most 100; got 101"),
    ],
)
def test_env_int_refuses(monkeypatch, value, message):
    monkeypatch.setenv(VAR, value)
    with pytest.raises(ImproperlyConfigured) as info:
        env_int(VAR, 1, minimum=0, maximum=100)
    assert str(info.value) == message


def test_env_choice(monkeypatch, unset):
    assert env_choice(VAR, "file", ["file", "console"]) == "file"
    monkeypatch.setenv(VAR, "")
    assert env_choice(VAR, "file", ["file", "console"]) == "file"
    monkeypatch.setenv(VAR, " console ")
    assert env_choice(VAR, "file", ["file", "console"]) == "console"
    monkeypatch.setenv(VAR, "smtp")
    with pytest.raises(ImproperlyConfigured) as info:
        env_choice(VAR, "file", ["file", "console"])
    assert str(info.value) == f"{VAR} must be one of file, console; got 'smtp'"


def test_env_choice_is_case_sensitive(monkeypatch):
    monkeypatch.setenv(VAR, "Console")
    with pytest.raises(ImproperlyConfigured):
        env_choice(VAR, "file", ["file", "console"])


def test_env_list(monkeypatch, unset):
    assert env_list(VAR, ["localhost"]) == ["localhost"]
    monkeypatch.setenv(VAR, "")
    assert env_list(VAR, ["localhost"]) == ["localhost"]
    monkeypatch.setenv(VAR, " tousu.example.cn, ,10.0.0.5,,[::1] ")
    assert env_list(VAR, ["localhost"]) == ["tousu.example.cn", "10.0.0.5", "[::1]"]


def test_env_str_and_time_zone(monkeypatch, unset):
    assert env_str(VAR, "fallback") == "fallback"
    assert env_time_zone(VAR, "Asia/Shanghai") == "Asia/Shanghai"
    monkeypatch.setenv(VAR, " Europe/Berlin ")
    assert env_str(VAR, "fallback") == "Europe/Berlin"
    assert env_time_zone(VAR, "Asia/Shanghai") == "Europe/Berlin"
    for bad in ("Mars/Base", "../../etc/passwd"):
        monkeypatch.setenv(VAR, bad)
        with pytest.raises(ImproperlyConfigured) as info:
            env_time_zone(VAR, "Asia/Shanghai")
        assert str(info.value) == f"{VAR} must be an IANA time zone such as Asia/Shanghai; got {bad!r}"
