"""A full disk while evidence is written registers nothing and leaves no file; the retry, once
there is space again, registers exactly one case (issue 9, point 10)."""

from __future__ import annotations

import errno
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints.models import Attachment, Complaint
from tousu.notifications.models import Notification

pytestmark = pytest.mark.django_db

FULL = "The file storage is full; nothing was saved. Please try again later."


class FillingStorage(FileSystemStorage):
    """A file system that runs out of space half-way through a file while ``full`` is set: the
    first half is written (as a real disk would leave it), then ENOSPC."""

    full = True

    def _save(self, name: str, content: Any) -> str:
        if not type(self).full:
            return super()._save(name, content)
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.read()
        with path.open("xb") as out:
            out.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.FillingStorage"},
    }
    FillingStorage.full = True
    ratelimit_reset()
    with translation.override(translation.get_language()):
        yield
    ratelimit_reset()


def files(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def evidence() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile("bill.txt", "3月账单：彩铃 15元".encode(), content_type="text/plain"),
        SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x01" * 4000, content_type="image/png"),
    ]


def test_staff_registration_on_a_full_disk_registers_nothing_and_the_retry_one_case(
    client, people, org, settings
):
    client.force_login(people["agent"])
    data = {
        "channel": "hotline",
        "phone": "139 1234 5678",
        "customer_name": "李四",
        "category": org["wrong_charge"].pk,
        "level": "dissatisfied",
        "business_type": "mobile",
        "description": "本月账单多收了15元流量费。",
        "preferred_reply_channel": "sms",
    }
    response = client.post("/register/", {**data, "attachments": evidence()}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert FULL in unescape(response.content.decode())
    assert (Complaint.objects.count(), Attachment.objects.count(), Notification.objects.count()) == (0, 0, 0)
    assert files(Path(settings.MEDIA_ROOT)) == []

    FillingStorage.full = False
    response = client.post("/register/", {**data, "attachments": evidence()}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    stored = sorted(a.file.name for a in Attachment.objects.filter(complaint=complaint))
    assert sorted(a.original_name for a in complaint.attachments.all()) == ["bill.txt", "photo.png"]
    assert files(Path(settings.MEDIA_ROOT)) == stored


def test_the_second_file_failing_removes_the_first_and_the_case(client, people, org, settings, monkeypatch):
    """The disk fills up on the second file: the first, already complete, goes too."""
    FillingStorage.full = False
    original = FillingStorage._save
    calls = []

    def second_fails(self, name, content):  # type: ignore[no-untyped-def]
        calls.append(name)
        FillingStorage.full = len(calls) == 2
        return original(self, name, content)

    monkeypatch.setattr(FillingStorage, "_save", second_fails)
    client.cookies["django_language"] = "en"
    response = client.post(
        "/portal/file/",
        {
            "customer_name": "王五",
            "phone": "139 1234 5678",
            "business_type": "broadband",
            "category": org["outage"].pk,
            "description": "家里宽带从昨晚起断网，重启光猫无效。",
            "preferred_reply_channel": "sms",
            "email": "",
            "website": "",
            "attachments": evidence(),
        },
    )
    assert len(calls) == 2
    assert response.status_code == 503
    assert FULL in unescape(response.content.decode())
    assert (Complaint.objects.count(), Attachment.objects.count(), Notification.objects.count()) == (0, 0, 0)
    assert files(Path(settings.MEDIA_ROOT)) == []


def test_portal_filing_retry_after_space_is_back_files_once(client, org, settings):
    client.cookies["django_language"] = "en"
    data = {
        "customer_name": "王五",
        "phone": "139 1234 5678",
        "business_type": "broadband",
        "category": org["outage"].pk,
        "description": "家里宽带从昨晚起断网，重启光猫无效。",
        "preferred_reply_channel": "sms",
        "email": "",
        "website": "",
    }
    response = client.post("/portal/file/", {**data, "attachments": evidence()})
    assert response.status_code == 503
    assert Complaint.objects.count() == 0
    assert files(Path(settings.MEDIA_ROOT)) == []
    FillingStorage.full = False
    response = client.post("/portal/file/", {**data, "attachments": evidence()})
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.attachments.count() == 2
    assert len(files(Path(settings.MEDIA_ROOT))) == 2


def test_adding_evidence_to_a_case_on_a_full_disk_is_a_clear_503(client, people, cases, settings):
    complaint = cases.register()
    client.force_login(people["agent"])
    before = Attachment.objects.count()
    from tousu.common.errors import TousuError
    from tousu.complaints.services import attachment_add

    with pytest.raises(TousuError) as err:
        attachment_add(
            actor=people["agent"], complaint_id=complaint.pk, name="bill.txt", content=evidence()[0]
        )
    assert (err.value.http_status, err.value.message) == (503, FULL)
    assert Attachment.objects.count() == before
    assert files(Path(settings.MEDIA_ROOT)) == []
