"""A real SMTP server on loopback (aiosmtpd) for the tests that deliver e-mail: the ``smtp``
fixture in conftest starts one and points the e-mail transport at it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Inbox:
    """An aiosmtpd handler keeping what it receives; answers with ``replies`` first, if any."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.peers: list[Any] = []  # the client's address per message: one per SMTP connection
        self.replies: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.append(session.peer)
        if self.replies:
            return self.replies.pop(0)
        self.received.append(envelope)
        return "250 2.0.0 Ok: queued as 4B7C1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(settings: Any) -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.TOUSU_EMAIL_TRANSPORT = "smtp"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    try:
        yield inbox
    finally:
        controller.stop()
