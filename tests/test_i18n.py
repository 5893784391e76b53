"""Simplified Chinese is the default UI language; English is there for whoever asks for it.

The catalogue is ``src/tousu/locale/zh_Hans/LC_MESSAGES/django.po``; its compiled ``django.mo`` is
committed (built by ``scripts/compile_messages.py``) so a machine without gettext runs in Chinese.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.functional import Promise

from tousu.accounts.roles import Role
from tousu.complaints.states import Status

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PO_PATH = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
LOGIN_URL = "/accounts/login/"
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{[^{}]*\}")


@pytest.fixture(autouse=True)
def _keep_active_language():
    """Requests through LocaleMiddleware activate a language for the thread; put the old one back."""
    with translation.override(translation.get_language()):
        yield


@pytest.fixture(scope="module")
def po() -> polib.POFile:
    return polib.pofile(str(PO_PATH), encoding="utf-8")


def messages(catalogue: polib.MOFile) -> dict[tuple[str | None, str], str | tuple[str, ...]]:
    """What a reader of the compiled catalogue sees: (context, msgid) → translation(s)."""
    return {
        (e.msgctxt, e.msgid): tuple(e.msgstr_plural[k] for k in sorted(e.msgstr_plural))
        if e.msgid_plural
        else e.msgstr
        for e in catalogue
    }


# --- the catalogue files ------------------------------------------------------------------------


def test_committed_mo_is_compiled_from_the_po(po):
    assert MO_PATH.is_file(), f"{MO_PATH} is missing: run .venv/bin/python scripts/compile_messages.py"
    fresh = polib.mofile(po.to_binary())
    committed = polib.mofile(str(MO_PATH))
    hint = "django.mo is out of date with django.po: run .venv/bin/python scripts/compile_messages.py"
    assert messages(committed) == messages(fresh), hint
    assert committed.metadata == fresh.metadata, hint


def test_po_has_no_empty_fuzzy_or_obsolete_entries(po):
    assert len(po) > 0
    assert not po.metadata_is_fuzzy, "the header is marked fuzzy"
    assert [e.msgid for e in po if "fuzzy" in e.flags] == []
    assert [e.msgid for e in po.obsolete_entries()] == []
    empty = [e.msgid for e in po if not (e.msgstr or all(e.msgstr_plural.values()))]
    assert empty == []
    assert po.percent_translated() == 100


def test_po_translations_keep_every_placeholder(po):
    broken = [
        e.msgid
        for e in po
        for translated in ([e.msgstr] if not e.msgid_plural else list(e.msgstr_plural.values()))
        if sorted(PLACEHOLDER.findall(translated)) != sorted(PLACEHOLDER.findall(e.msgid_plural or e.msgid))
    ]
    assert broken == []


def test_po_header_names_the_language_and_charset(po):
    assert po.metadata["Language"] == "zh_Hans"
    assert "charset=UTF-8" in po.metadata["Content-Type"]
    assert po.metadata["Plural-Forms"] == "nplurals=1; plural=0;"


def test_translations_are_chinese(po):
    """A msgstr left in English (copied over by mistake) is as bad as an empty one."""
    latin_only = {"IPTV"}  # the product name is the same in Chinese
    cjk = re.compile(r"[\u4e00-\u9fff]")

    def texts(entry):
        return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]

    assert [
        e.msgid for e in po if e.msgid not in latin_only and not all(cjk.search(t) for t in texts(e))
    ] == []


# --- labels in code -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "closed", "agent"),
    [("zh-hans", "已结案", "客服代表"), ("en", "Closed", "Frontline agent")],
)
def test_choice_labels_follow_the_active_language(language, closed, agent):
    with translation.override(language):
        assert str(Status.CLOSED.label) == closed
        assert str(Role.AGENT.label) == agent


def test_glossary_terms():
    """The words Chinese telecom customer service uses, spot-checked through the real lookup."""
    from tousu.complaints.choices import Channel, Level, RemedyKind

    expected = [
        (Role.HANDLER.label, "责任部门处理人"),
        (Role.RETURN_VISIT.label, "回访专员"),
        (Role.SUPERVISOR.label, "班长"),
        (Status.REJECTED.label, "不予受理"),
        (Status.AWAITING_CUSTOMER.label, "待客户反馈"),
        (Status.AWAITING_APPROVAL.label, "补偿待审批"),
        (Status.WITHDRAWN.label, "已撤诉"),
        (Level.MAJOR.label, "重大投诉"),
        (Level.CRISIS.label, "危机事件"),
        (Channel.REGULATOR.label, "监管转办"),
        (RemedyKind.APOLOGY.label, "赔礼道歉"),
    ]
    with translation.override("zh-hans"):
        assert [str(label) for label, _zh in expected] == [zh for _label, zh in expected]


def _lazy_labels() -> dict[str, Promise]:
    """Every translatable label Tousu shows: app names, model names, field names, choice labels."""
    labels: dict[str, Promise] = {}

    def add(where: str, value: object) -> None:
        if isinstance(value, Promise):
            labels[where] = value

    for config in apps.get_app_configs():
        if not config.name.startswith("tousu."):
            continue
        add(config.name, config.verbose_name)
        for model in config.get_models():
            add(f"{model._meta.label}", model._meta.verbose_name)
            add(f"{model._meta.label} (plural)", model._meta.verbose_name_plural)
            for field in model._meta.get_fields():
                add(f"{model._meta.label}.{field.name}", getattr(field, "verbose_name", None))

    def walk(cls: type[models.Choices]) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("tousu."):
                for member in sub:
                    add(f"{sub.__module__}.{sub.__qualname__}.{member.name}", member.label)
            walk(sub)

    walk(models.Choices)
    return labels


def test_every_label_in_the_code_has_a_chinese_translation():
    """Catches a string marked for translation but missing from django.po (rerun makemessages)."""
    labels = _lazy_labels()
    assert len(labels) > 100
    untranslated = {}
    for where, label in labels.items():
        with translation.override("en"):
            english = str(label)
        with translation.override("zh-hans"):
            chinese = str(label)
        if english == chinese and english not in {"IPTV"}:
            untranslated[where] = english
    assert untranslated == {}


# --- messages from services ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "message"),
    [("zh-hans", "“12345”不是有效的电话号码。"), ("en", "'12345' is not a valid phone number.")],
    ids=["zh-hans", "en"],
)
def test_service_refusals_follow_the_active_language(language, message):
    """A service's error is translated when raised, so the page or API shows it as it is."""
    from tousu.common.errors import ValidationError
    from tousu.common.phone import normalize_phone

    with translation.override(language), pytest.raises(ValidationError) as refused:
        normalize_phone("12345")
    assert refused.value.message == message
    assert str(refused.value) == message
    assert refused.value.fields == {"phone": "not a valid phone number"}


# --- the sign-in page through LocaleMiddleware ---------------------------------------------------


def _assert_chinese(response):
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "<h1>登录</h1>" in page
    assert "用户名" in page
    assert "密码" in page
    assert "Sign in" not in page
    assert response["Content-Language"] == "zh-hans"


def _assert_english(response):
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="en">' in page
    assert "<h1>Sign in</h1>" in page
    assert "Username" in page
    assert "Password" in page
    assert "登录" not in page
    assert response["Content-Language"] == "en"


@pytest.mark.skipif(
    os.environ.get("TOUSU_LANGUAGE", "zh-hans") != "zh-hans",
    reason="TOUSU_LANGUAGE changes the deployment's default language",
)
def test_shipped_default_language_is_simplified_chinese():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert dict(settings.LANGUAGES).keys() == {"zh-hans", "en"}


@pytest.fixture
def chinese_default(settings):
    settings.LANGUAGE_CODE = "zh-hans"  # the shipped default, even when TOUSU_LANGUAGE says otherwise


def test_sign_in_page_is_chinese_without_any_preference(client, chinese_default):
    _assert_chinese(client.get(LOGIN_URL))


def test_sign_in_page_is_chinese_for_a_chinese_browser(client, chinese_default):
    _assert_chinese(client.get(LOGIN_URL, headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}))


def test_sign_in_page_is_english_for_an_english_browser(client, chinese_default):
    _assert_english(client.get(LOGIN_URL, headers={"accept-language": "en-US,en;q=0.9"}))


def test_sign_in_page_is_english_with_the_language_cookie(client, chinese_default):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    _assert_english(client.get(LOGIN_URL))


def test_language_cookie_beats_the_browser(client, chinese_default):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    _assert_chinese(client.get(LOGIN_URL, headers={"accept-language": "en"}))


def test_language_switcher_sets_the_cookie(client, chinese_default):
    response = client.post("/i18n/setlang/", {"language": "en", "next": LOGIN_URL})
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    _assert_english(client.get(LOGIN_URL))
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": LOGIN_URL})
    _assert_chinese(client.get(LOGIN_URL))


def test_failed_sign_in_explains_in_chinese(client, chinese_default, db):
    response = client.post(LOGIN_URL, {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确，请重新输入。" in response.content.decode()
