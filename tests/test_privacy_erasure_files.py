"""Erasure on a real SQLite database file: after ``tousu privacy erase`` the database file, its
write-ahead log and every other file of TOUSU_DATA_DIR hold none of the erased identifiers as raw
bytes, free pages included (secure_delete, VACUUM, a TRUNCATE checkpoint). Real processes: the
commands an administrator runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PHONE = "13812348000"
ID_NUMBER = "11010519491231002X"
EMAIL = "zhangsan@example.com"
SECRETS = [PHONE.encode(), b"138 1234 8000", ID_NUMBER.encode(), EMAIL.encode()]

# Run inside `tousu shell`: a customer whose identifiers are in a case, a note, an attachment,
# a delivered SMS (the outbox log) and free text that is rewritten several times (old row versions).
_MAKE = f'''
import io
from tousu.accounts.models import Department, User
from tousu.accounts.roles import Role
from tousu.complaints import services as svc
from tousu.complaints.models import Category
from tousu.customers.models import Customer
from tousu.notifications.services import notifications_deliver, outbox_dispatch
dept = Department.objects.create(code="billing", name="计费结算部")
cat = Category.objects.create(code="billing", name="资费类", default_department=dept)
agent = User.objects.create_user(username="agent", password="pw-long-enough-1", role=Role.AGENT, department=dept)
c = svc.complaint_register(actor=agent, channel="hotline", phone="{PHONE}", customer_name="张三",
    email="{EMAIL}", business_type="mobile", category_id=cat.pk, level="dissatisfied",
    description="用户{PHONE}身份证{ID_NUMBER}被冒用" * 40, demand="回电138 1234 8000",
    preferred_reply_channel="sms")
Customer.objects.filter(pk=c.customer_id).update(id_number="{ID_NUMBER}")
svc.complaint_accept(actor=agent, complaint_id=c.pk)
for i in range(5):
    svc.complaint_note(actor=agent, complaint_id=c.pk, text=f"第{{i}}次来电 {PHONE} {EMAIL}")
svc.attachment_add(actor=agent, complaint_id=c.pk, name="bill.txt",
    content=io.BytesIO("账单 {PHONE} {ID_NUMBER}".encode()))
outbox_dispatch()
notifications_deliver()
'''

_ERASE = f'''
from django.core.management import call_command
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("PRAGMA secure_delete = OFF")
call_command("privacy", "erase", "--phone", "{PHONE}", "--reason", "客户要求删除", "--confirm")
'''


def _tousu(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TOUSU_DATABASE_URL"}
    env.update(
        {"TOUSU_DATA_DIR": str(data_dir), "TOUSU_LOG_LEVEL": "WARNING", "TOUSU_NOTIFY_TRANSPORT": "file"}
    )
    return subprocess.run(
        [sys.executable, "-m", "tousu.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _holding(data_dir: Path) -> list[str]:
    return [
        f"{p.name}: {s.decode()}"
        for p in sorted(data_dir.rglob("*"))
        if p.is_file()
        for s in SECRETS
        if s in p.read_bytes()
    ]


@pytest.mark.skipif(
    os.environ.get("TOUSU_DATABASE_URL", "").startswith("postgres"),
    reason="about the SQLite file and its WAL (PostgreSQL: tests/test_privacy_erasure.py)",
)
def test_the_sqlite_file_its_wal_and_the_data_folder_keep_no_erased_bytes(tmp_path):
    done = _tousu(tmp_path, "migrate", "-v0")
    assert done.returncode == 0, done.stderr
    done = _tousu(tmp_path, "shell", "-c", _MAKE)
    assert done.returncode == 0, done.stderr
    before = _holding(tmp_path)
    assert "tousu.sqlite3: " + PHONE in before or "tousu.sqlite3-wal: " + PHONE in before
    assert f"outbox.log: {PHONE}" in before
    assert any("-bill.txt: " in h for h in before)  # the attachment file

    # The command as an administrator runs it, on a connection where SQLite's build default would
    # leave freed pages as they were (Debian's SQLite has secure_delete on by default).
    done = _tousu(tmp_path, "shell", "-c", _ERASE)
    assert done.returncode == 0, done.stderr
    assert "erased (record 1): customers 1, identities 2" in done.stdout

    assert _holding(tmp_path) == []
    assert (tmp_path / "tousu.sqlite3").stat().st_size > 0
