"""E-mail in, against a real IMAP server: a private Dovecot started by these tests on loopback.

Messages are put in the mailbox with IMAP APPEND, the worker's poll runs, and the cases, notes,
attachments and records it made are checked exactly.
"""

from __future__ import annotations

import imaplib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tousu.channels import email_in
from tousu.channels.email_in import email_handle, email_poll, html_to_text, mailbox_poll
from tousu.channels.models import InboundEmail, MailboxState
from tousu.complaints.events import EventKind
from tousu.complaints.models import Attachment, Category, Complaint, ComplaintEvent
from tousu.complaints.states import Status
from tousu.notifications.models import CustomerLanguage, Notification
from tousu.notifications.services import outbox_dispatch

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
IMAP_USER, IMAP_PASSWORD = "complaints", "imap-secret"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


# --- a private Dovecot --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dovecot_config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot refuses to read mail as root: the mail belongs to its own 'dovecot' user.
        mail_user = "dovecot"
        internal = ""
    else:
        mail_user = pwd.getpwuid(os.getuid()).pw_name
        internal = f"default_internal_user = {mail_user}\ndefault_login_user = {mail_user}\n"
    uid = pwd.getpwnam(mail_user).pw_uid
    gid = pwd.getpwnam(mail_user).pw_gid
    mail = root / "mail"
    mail.mkdir()
    os.chown(mail, uid, gid)
    (root / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::\n")
    return f"""\
instance_name = tousu-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
first_valid_uid = 1
{internal}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@pytest.fixture(scope="module")
def dovecot() -> Iterator[int]:
    """A Dovecot of our own on 127.0.0.1 (its own config, passwd file and maildir in a temporary
    folder; the system's Dovecot service is never touched). Yields its port."""
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd); IMAP tests skipped")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("dovecot")
            pwd.getpwnam("dovenull")
        except KeyError:
            pytest.skip("dovecot's system users are missing; IMAP tests skipped")
    root = Path(tempfile.mkdtemp(prefix="tousu-dovecot-"))
    root.chmod(0o755)
    port = _free_port()
    config = root / "dovecot.conf"
    config.write_text(_dovecot_config(root, port))
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    pytest.fail(f"dovecot did not start:\n{out}\n{log}")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(root, ignore_errors=True)


_folders = itertools.count(1)


@pytest.fixture
def mailbox(dovecot, settings) -> Iterator[imaplib.IMAP4]:
    """A fresh folder for this test, the intake configured to read it, and an IMAP connection to
    put messages in it."""
    folder = f"Complaints{next(_folders)}"
    conn = imaplib.IMAP4("127.0.0.1", dovecot, timeout=10)
    conn.login(IMAP_USER, IMAP_PASSWORD)
    assert conn.create(folder)[0] == "OK"
    settings.TOUSU_IMAP_HOST = "127.0.0.1"
    settings.TOUSU_IMAP_PORT = dovecot
    settings.TOUSU_IMAP_SSL = False
    settings.TOUSU_IMAP_USER = IMAP_USER
    settings.TOUSU_IMAP_PASSWORD = IMAP_PASSWORD
    settings.TOUSU_IMAP_FOLDER = folder
    settings.TOUSU_MAIL_FROM = "Tousu <kefu@tousu.example>"
    conn.folder = folder  # type: ignore[attr-defined]
    yield conn
    conn.logout()


def append(conn: imaplib.IMAP4, msg: EmailMessage | bytes) -> None:
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    typ, data = conn.append(conn.folder, None, None, raw)  # type: ignore[attr-defined]
    assert typ == "OK", data


def flags(conn: imaplib.IMAP4) -> list[bytes]:
    conn.select(conn.folder)  # type: ignore[attr-defined]
    typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK"
    return [line for line in data if isinstance(line, bytes)]


def mail(
    *,
    subject: str = "话费被多扣了",
    body: str = "你好，我3月的账单多扣了30元彩铃费，我从来没有订购过。",
    sender: str = "李四 <lisi@example.com>",
    message_id: str = "<m1@example.com>",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "kefu@tousu.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Mar 2026 08:30:00 +0800"
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


@pytest.fixture
def other(db, settings):
    """The category for cases that came by e-mail, to be classified (the seed has it as 'other')."""
    return Category.objects.create(code="other", name="其他")


@pytest.fixture
def at_t0(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


pytestmark = pytest.mark.django_db


# --- a new message becomes a case --------------------------------------------------------------


def test_a_new_email_becomes_an_accepted_case_acknowledged_by_email(mailbox, other, at_t0, settings):
    append(mailbox, mail())

    assert mailbox_poll() == 1

    c = Complaint.objects.select_related("customer").get()
    assert (
        c.channel,
        c.external_id,
        c.status,
        c.ticket_no,
        c.category_id,
        c.business_type,
        c.preferred_reply_channel,
        c.description,
        c.received_at,
        c.registered_by_id,
    ) == (
        "email",
        "<m1@example.com>",
        Status.ACCEPTED,
        "TS20260302000001",
        other.pk,
        "other",
        "email",
        "话费被多扣了\n\n你好，我3月的账单多扣了30元彩铃费，我从来没有订购过。",
        datetime(2026, 3, 2, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
        None,
    )
    assert (c.customer.name, c.customer.email, c.customer.phone) == ("李四", "lisi@example.com", "")
    assert list(
        InboundEmail.objects.values_list("message_id", "uid", "from_address", "outcome", "complaint")
    ) == [("<m1@example.com>", 1, "lisi@example.com", "case", c.pk)]
    assert flags(mailbox) == [b"1 (UID 1 FLAGS (\\Seen))"]
    assert not CustomerLanguage.objects.exists()  # wrote in Chinese: the default language

    # The acknowledgement with the ticket number goes back by e-mail.
    outbox_dispatch()
    ack = Notification.objects.get(complaint=c)
    assert (ack.template, ack.transport, ack.address) == ("ack", "email", "lisi@example.com")
    assert "TS20260302000001" in ack.body

    # Polled again: nothing new, nothing twice.
    assert mailbox_poll() == 0
    assert (Complaint.objects.count(), InboundEmail.objects.count()) == (1, 1)


def test_a_repoll_from_the_start_never_duplicates(mailbox, other, at_t0):
    append(mailbox, mail())
    assert mailbox_poll() == 1
    MailboxState.objects.all().delete()  # as if the folder's UIDVALIDITY had changed
    assert mailbox_poll() == 1  # read again…
    assert (Complaint.objects.count(), InboundEmail.objects.count()) == (1, 1)  # …but handled once


def test_an_english_email_gets_english_messages(mailbox, other, at_t0):
    append(
        mailbox, mail(subject="Double charge", body="I was charged twice in March.", sender="bob@example.com")
    )
    assert mailbox_poll() == 1
    c = Complaint.objects.get()
    assert CustomerLanguage.objects.get(customer=c.customer).language == "en"
    outbox_dispatch()
    ack = Notification.objects.get(complaint=c)
    assert (ack.language, ack.subject) == ("en", f"Your complaint has been accepted [{c.ticket_no}]")


def test_html_only_mail_becomes_text(mailbox, other, at_t0):
    msg = EmailMessage()
    msg["From"] = "wangwu@example.com"
    msg["Subject"] = "宽带断网"
    msg["Message-ID"] = "<html1@example.com>"
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>家里宽带&nbsp;断网三天了。</p>"
        "<div>地址：天河路1号<br>电话：13812348000</div><script>x()</script></body></html>",
        subtype="html",
    )
    append(mailbox, msg)
    assert mailbox_poll() == 1
    assert (
        Complaint.objects.get().description
        == "宽带断网\n\n家里宽带 断网三天了。\n\n地址：天河路1号\n电话：13812348000"
    )


def test_html_to_text_keeps_lines_and_drops_markup():
    assert html_to_text("<p>a &amp; b</p><p>c<br/>d</p><style>x</style>") == "a & b\n\nc\nd"


# --- attachments -------------------------------------------------------------------------------


def test_attachments_are_kept_and_a_refused_one_is_noted(mailbox, other, at_t0):
    msg = mail()
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="账单截图.png")
    msg.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="tool.exe")
    append(mailbox, msg)

    assert mailbox_poll() == 1

    c = Complaint.objects.get()
    assert list(Attachment.objects.values_list("complaint", "original_name", "content_type", "size")) == [
        (c.pk, "账单截图.png", "image/png", len(PNG))
    ]
    notes = list(
        ComplaintEvent.objects.filter(complaint=c, kind=EventKind.NOTE_ADDED).values_list(
            "payload", flat=True
        )
    )
    assert notes == [
        {
            "text": "The e-mail's attachment 'tool.exe' was not kept: Files of this type are not accepted as "
            "evidence (allowed: amr, docx, eml, gif, jpeg, jpg, m4a, mp3, mp4, pdf, png, txt, wav, webp, "
            "xlsx), or the content does not match '.exe'."
        }
    ]
    assert c.status == Status.ACCEPTED


# --- replies with a ticket number ----------------------------------------------------------------


def test_a_reply_with_the_ticket_number_is_a_note_and_continues_a_waiting_case(mailbox, cases, other, at_t0):
    c = cases.make(Status.AWAITING_CUSTOMER, email="zs@example.com")
    reply = mail(
        subject=f"Re: 需要您补充信息 {c.ticket_no}",
        body="截图见附件。",
        sender="张三 <ZS@example.com>",
        message_id="<reply1@example.com>",
    )
    reply.add_attachment(PNG, maintype="image", subtype="png", filename="bill.png")
    append(mailbox, reply)

    assert mailbox_poll() == 1

    assert Complaint.objects.count() == 1
    c = cases.reload(c)
    assert c.status == Status.INVESTIGATING
    events = list(
        ComplaintEvent.objects.filter(complaint=c, created_at__gte=T0)
        .order_by("id")
        .values_list("kind", "actor", "payload")
    )
    assert events[-2:] == [
        (
            EventKind.INFO_RECEIVED,
            None,
            {
                "message": f"E-mail from the customer: Re: 需要您补充信息 {c.ticket_no}\n\n截图见附件。",
                "from": "customer",
            },
        ),
        (EventKind.ATTACHMENT_ADDED, None, events[-1][2]),
    ]
    assert list(
        ComplaintEvent.objects.filter(complaint=c).order_by("-id").values_list("via", "actor_label")[:2]
    ) == [("email", "customer"), ("email", "customer")]
    assert events[-1][2]["name"] == "bill.png"
    assert list(InboundEmail.objects.values_list("outcome", "complaint")) == [("note", c.pk)]


def test_a_ticket_number_in_the_body_adds_a_note_without_moving_the_case(mailbox, cases, other, at_t0):
    c = cases.make(Status.INVESTIGATING, email="zs@example.com")
    append(mailbox, mail(subject="补充", body=f"关于 {c.ticket_no}：又扣了一次。", sender="zs@example.com"))
    assert mailbox_poll() == 1
    c = cases.reload(c)
    assert c.status == Status.INVESTIGATING
    assert ComplaintEvent.objects.filter(complaint=c, kind=EventKind.NOTE_ADDED).get().payload == {
        "text": f"E-mail from the customer: 补充\n\n关于 {c.ticket_no}：又扣了一次。"
    }


def test_someone_elses_ticket_number_makes_a_new_case(mailbox, cases, other, at_t0):
    c = cases.make(Status.AWAITING_CUSTOMER, email="zs@example.com")
    append(mailbox, mail(subject=f"Re: {c.ticket_no}", sender="stranger@example.com"))
    assert mailbox_poll() == 1
    assert cases.reload(c).status == Status.AWAITING_CUSTOMER
    assert not ComplaintEvent.objects.filter(complaint=c, kind=EventKind.NOTE_ADDED).exists()
    new = Complaint.objects.exclude(pk=c.pk).get()
    assert (new.customer.email, new.channel) == ("stranger@example.com", "email")


# --- what is ignored ---------------------------------------------------------------------------


def _bounce() -> EmailMessage:
    msg = mail(sender="MAILER-DAEMON@mx.example.com", subject="Undelivered Mail Returned to Sender")
    msg.make_mixed()
    msg.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    return msg


IGNORED = [
    (mail(Auto_Submitted="auto-replied"), "Auto-reply: Auto-Submitted is 'auto-replied'."),
    (mail(X_Autoreply="yes"), "Auto-reply: the message carries X-Autoreply."),
    (mail(Precedence="bulk"), "Auto-reply: Precedence is 'bulk'."),
    (mail(Precedence="auto_reply"), "Auto-reply: Precedence is 'auto_reply'."),
    (mail(Precedence="list"), "Auto-reply: Precedence is 'list'."),
    (_bounce(), "Bounce: a delivery status report."),
    (mail(sender="MAILER-DAEMON@mx.example.com"), "Bounce: sent by MAILER-DAEMON."),
    (mail(Return_Path="<>"), "Bounce: the Return-Path is empty."),
    (mail(X_Tousu_Loop="tousu.example"), "Mail loop: the message carries our X-Tousu-Loop header."),
    (mail(sender="Tousu <KEFU@tousu.example>"), "Mail loop: the message comes from our own address."),
]


@pytest.mark.parametrize(("msg", "reason"), IGNORED, ids=[reason for _m, reason in IGNORED])
def test_auto_replies_bounces_and_loops_are_ignored_with_the_reason(mailbox, other, msg, reason):
    append(mailbox, msg)
    assert mailbox_poll() == 1
    assert Complaint.objects.count() == 0
    assert list(InboundEmail.objects.values_list("outcome", "reason", "complaint")) == [
        ("ignored", reason, None)
    ]
    assert flags(mailbox) == [b"1 (UID 1 FLAGS (\\Seen))"]


def test_our_own_outgoing_mail_coming_back_is_ignored(other, settings):
    """What the SMTP transport sends, fed back to the intake, is recognised as a loop."""
    from tousu.notifications.transports import email_message

    settings.TOUSU_MAIL_FROM = "Tousu <kefu@tousu.example>"
    n = Notification(
        pk=7, subject="您的投诉已受理", body="受理编号 TS20260302000001", address="lisi@example.com"
    )
    raw = email_message(n).message().as_bytes()
    record = email_handle(raw)
    assert (record.outcome, record.reason) == (
        "ignored",
        "Mail loop: the message carries our X-Tousu-Loop header.",
    )
    assert Complaint.objects.count() == 0


# --- a bad message never stops the poll ----------------------------------------------------------


def test_a_bad_message_is_recorded_and_the_next_one_still_handled(mailbox, other, at_t0):
    append(mailbox, mail(sender="not-an-address", message_id="<bad@example.com>"))
    append(mailbox, mail(message_id="<good@example.com>"))

    assert mailbox_poll() == 2

    assert list(InboundEmail.objects.order_by("uid").values_list("uid", "outcome", "reason")) == [
        (1, "failed", "'not-an-address' is not an e-mail address."),
        (2, "case", ""),
    ]
    assert Complaint.objects.get().external_id == "<good@example.com>"
    assert flags(mailbox) == [b"1 (UID 1 FLAGS (\\Seen))", b"2 (UID 2 FLAGS (\\Seen))"]
    assert mailbox_poll() == 0  # a failed message is not retried forever


def test_a_message_without_message_id_is_still_handled_once(mailbox, other, at_t0):
    append(mailbox, mail(message_id=""))
    assert mailbox_poll() == 1
    MailboxState.objects.all().delete()
    assert mailbox_poll() == 1
    c = Complaint.objects.get()
    assert c.external_id.startswith("sha256:")
    assert len(c.external_id) == 71


def test_without_the_category_nothing_is_made_and_the_error_recorded(mailbox, at_t0, settings):
    settings.TOUSU_EMAIL_CATEGORY = "to-classify"
    append(mailbox, mail())
    assert mailbox_poll() == 1
    assert Complaint.objects.count() == 0
    assert list(InboundEmail.objects.values_list("outcome", "reason")) == [
        ("failed", "The category 'to-classify' for e-mail cases does not exist (TOUSU_EMAIL_CATEGORY).")
    ]


# --- the mailbox -------------------------------------------------------------------------------


def test_a_wrong_password_is_recorded_on_the_mailbox_and_raises_nothing(mailbox, other, settings):
    settings.TOUSU_IMAP_PASSWORD = "wrong"
    append(mailbox, mail())
    assert mailbox_poll() == 0
    state = MailboxState.objects.get()
    assert state.last_error.startswith("error: ")
    assert "AUTHENTICATIONFAILED" in state.last_error
    assert (Complaint.objects.count(), state.last_uid) == (0, 0)


def test_the_worker_job_polls_only_when_configured_and_due(mailbox, other, at_t0, settings, monkeypatch):
    monkeypatch.setattr(email_in, "_next_poll", 0.0)
    append(mailbox, mail())
    settings.TOUSU_IMAP_HOST = ""
    assert email_poll() == 0  # disabled
    settings.TOUSU_IMAP_HOST = "127.0.0.1"
    assert email_poll() == 1
    append(mailbox, mail(message_id="<m2@example.com>"))
    assert email_poll() == 0  # not due for TOUSU_IMAP_INTERVAL seconds
    monkeypatch.setattr(email_in, "_next_poll", 0.0)
    assert email_poll() == 1
    assert Complaint.objects.count() == 2


def test_a_case_is_made_through_the_register_and_accept_services(other, at_t0):
    """The intake writes cases only through the services: the events a register and accept make."""
    record = email_handle(mail().as_bytes())
    c = record.complaint
    assert c is not None
    assert list(ComplaintEvent.objects.filter(complaint=c).order_by("id").values_list("kind", flat=True)) == [
        EventKind.REGISTERED,
        EventKind.ACCEPTED,
    ]


def test_the_admin_lists_inbound_emails_masked(client, people, other, at_t0):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    email_handle(mail(Precedence="bulk").as_bytes())
    client.force_login(people["admin"])
    page = client.get("/admin/channels/inboundemail/").content.decode()
    assert "l***@example.com" in page
    assert "lisi@example.com" not in page
    assert "Auto-reply: Precedence is &#x27;bulk&#x27;." in page
    assert client.get("/admin/channels/inboundemail/add/").status_code == 403


def test_database_trouble_stops_the_poll_and_the_message_is_read_again(mailbox, other, at_t0, monkeypatch):
    from django.db import OperationalError

    from tousu.complaints import services as svc

    real = svc.complaint_register

    def locked(**kwargs):
        raise OperationalError("database is locked")

    append(mailbox, mail())
    monkeypatch.setattr(svc, "complaint_register", locked)
    with pytest.raises(OperationalError):
        mailbox_poll()
    assert (Complaint.objects.count(), InboundEmail.objects.count()) == (0, 0)
    assert flags(mailbox) == [b"1 (UID 1 FLAGS ())"]  # not marked: it is read again

    monkeypatch.setattr(svc, "complaint_register", real)
    assert mailbox_poll() == 1
    assert Complaint.objects.get().external_id == "<m1@example.com>"
