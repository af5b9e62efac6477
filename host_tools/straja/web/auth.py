"""Who may see and who may act on the dashboard (docs/dashboard.md, "Access").

Passwords are stored only as scrypt hashes (`straja web-password` makes one). A browser sends
user and password with HTTP Basic authentication, which is why anything but a loopback address
needs users in the config (and should have TLS). On a loopback address with no users configured,
whoever can reach the port is the site's technician: an operator named "local".
"""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
from dataclasses import dataclass

from .. import term
from ..argtypes import host_port
from ..errors import StrajaError

VIEWER, OPERATOR = "viewer", "operator"
ROLES = (VIEWER, OPERATOR)
# scrypt cost: 2^15 x 8 x 1 takes ~50 ms and 32 MiB, so a stolen config is slow to guess at
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
HASH_PREFIX = "scrypt"


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str = ""

    @property
    def may_acknowledge(self) -> bool:
        return self.role == OPERATOR


LOCAL_OPERATOR = User("local", OPERATOR)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """"scrypt$N$r$p$salt$hash" (salt and hash base64): what the config's password_hash holds."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=SCRYPT_MAXMEM)
    return "$".join((HASH_PREFIX, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$") if isinstance(stored, str) else []
    try:
        if len(parts) != 6 or parts[0] != HASH_PREFIX:
            raise ValueError
        n, r, p = (int(x) for x in parts[1:4])
        return n, r, p, base64.b64decode(parts[4], validate=True), \
            base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("not a password hash made by `straja web-password`") from None


def verify_password(stored: str, password: str) -> bool:
    n, r, p, salt, digest = _parse_hash(stored)
    candidate = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                               maxmem=SCRYPT_MAXMEM, dklen=len(digest))
    return hmac.compare_digest(candidate, digest)


USER_NAME_MAX = 64


def user_name(text) -> str:
    """A user's name a browser can log in with: HTTP Basic authentication sends `name:password`
    and ends the name at its first ':', and a login prompt types no control character; so 1 to
    USER_NAME_MAX printable characters without ':' (argparse's type of `straja web-password`'s
    name, and the config's check)."""
    if not (isinstance(text, str) and 0 < len(text) <= USER_NAME_MAX and text.isprintable()
            and ":" not in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot be a user's name: 1 to {USER_NAME_MAX} printable characters "
            "without ':' (HTTP Basic authentication ends a name at its first ':')")
    return text


def users_from_config(entries) -> dict[str, User]:
    """The [web] users of a config, checked: a name a browser can send, a known role, a
    well-formed hash."""
    users = {}
    for i, entry in enumerate(entries):
        where = f"config web.users[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"name", "role", "password_hash"}:
            raise StrajaError(f"{where}: expected a table with name, role and password_hash",
                              "see docs/dashboard.md, \"Access\"", term.EXIT_USAGE)
        try:
            user_name(entry["name"])
        except argparse.ArgumentTypeError as e:
            raise StrajaError(f"{where}: {e}", code=term.EXIT_USAGE) from None
        if entry["role"] not in ROLES:
            raise StrajaError(f"{where}: role {entry['role']!r} is not one of {', '.join(ROLES)}",
                              code=term.EXIT_USAGE)
        try:
            _parse_hash(entry["password_hash"])
        except ValueError as e:
            raise StrajaError(f"{where}: {e}", "make one with `straja web-password`",
                              term.EXIT_USAGE) from None
        users[entry["name"]] = User(entry["name"], entry["role"], entry["password_hash"])
    return users


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_address(addr: str) -> tuple[str, int]:
    """"HOST:PORT" (or "[v6]:PORT", or just "PORT" for 127.0.0.1) to (host, port)."""
    try:
        return host_port(addr)
    except argparse.ArgumentTypeError as e:
        raise StrajaError(str(e), "give HOST:PORT, e.g. --web 127.0.0.1:8080",
                          term.EXIT_USAGE) from None


def check_bind(host: str, users: dict[str, User]) -> None:
    """Refuse to serve a non-loopback address to anyone who can reach it."""
    if not is_loopback(host) and not users:
        raise StrajaError(f"refusing to serve the dashboard on {host} without a password",
                          "add [[web.users]] with a password_hash (straja web-password) to the "
                          "config, or serve on 127.0.0.1", term.EXIT_USAGE)


class Authenticator:
    """Maps a request's Authorization header to a User, or None (refused)."""

    def __init__(self, users: dict[str, User]):
        self.users = users
        # headers already verified (by their SHA-256): scrypt is slow on purpose, and a browser
        # sends the header with every request
        self._verified: dict[bytes, User] = {}

    def user(self, authorization: str | None) -> User | None:
        if not self.users:
            return LOCAL_OPERATOR  # only ever on loopback: check_bind refused the rest
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        key = hashlib.sha256(authorization.encode()).digest()
        if key in self._verified:
            return self._verified[key]
        try:
            name, _, password = base64.b64decode(authorization[6:], validate=True) \
                .decode().partition(":")
        except (ValueError, binascii.Error):
            return None
        user = self.users.get(name)
        if user and verify_password(user.password_hash, password):
            self._verified[key] = user
            return user
        return None
