"""One-time codes that never sit in the database in clear.

A message carrying a code stores only its masked text (``MASK`` where the code goes) and a random
seed; the code is derived from the seed with the site's secret key, so only a process holding
``SECRET_KEY`` (the worker, at send time, in memory) can put the code back. A database dump or
the development outbox log shows ``******``.
"""

from __future__ import annotations

import secrets

from django.utils.crypto import salted_hmac

MASK = "******"
_SALT = "tousu.common.onetime"


def onetime_seed() -> str:
    """A fresh random seed (stored with the message)."""
    return secrets.token_hex(16)


def onetime_code(seed: str, *, digits: int = 6) -> str:
    """The code of ``seed``: ``digits`` decimal digits, the same every time for the same seed."""
    number = int(salted_hmac(_SALT, seed, algorithm="sha256").hexdigest(), 16)
    return f"{number % 10**digits:0{digits}d}"


def onetime_reveal(masked: str, seed: str) -> str:
    """The text to send: ``masked`` with the code of ``seed`` in place of ``MASK``."""
    return masked.replace(MASK, onetime_code(seed), 1) if seed else masked
