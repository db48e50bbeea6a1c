"""The form of a managed key, `qwq_<id>_<secret>`, and how its secret is kept (a SHA-256 digest).

The id is public: it names the key in the admin API, usage rows and logs, and lets a process find the
key's record without a search. The secret is 32 random bytes (256 bits) from the operating system's
CSPRNG. Such a secret cannot be guessed or brute-forced from its digest, so a fast hash is the right
tool: a slow password hash (bcrypt, scrypt, argon2) exists to protect low-entropy human passwords, and
here it would only cost every request that is not served from the cache milliseconds of CPU.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "qwq_"
ID_PATTERN = re.compile(r"[0-9a-f]{12}")


def new_id() -> str:
    return secrets.token_hex(6)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def compose(key_id: str, secret: str) -> str:
    return f"{PREFIX}{key_id}_{secret}"


def split(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed managed key, else `None`."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not secret or not ID_PATTERN.fullmatch(key_id):
        return None
    return key_id, secret


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
