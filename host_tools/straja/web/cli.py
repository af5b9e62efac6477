"""`straja web-password`: the hash of a dashboard password, for the config's [[web.users]]."""
from __future__ import annotations

import getpass
import json
import sys

from .. import term
from ..errors import StrajaError
from .auth import ROLES, hash_password, user_name


def configure(p) -> None:
    p.description = ("Ask for a password (twice; or read one line from standard input when it "
                     "is not a terminal) and print a [[web.users]] table for the gateway config "
                     "with its scrypt hash (docs/dashboard.md).")
    p.add_argument("name", type=user_name,
                   help="the user's name (printable characters, no ':', at most 64)")
    p.add_argument("--role", choices=ROLES, default="viewer",
                   help="viewer (read-only, the default) or operator (may acknowledge alerts)")
    p.set_defaults(func=run)


def run(args) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise StrajaError("the two passwords differ", code=term.EXIT_USAGE)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise StrajaError("a password of fewer than 8 characters", "choose a longer one",
                          term.EXIT_USAGE)
    print(f'[[web.users]]\nname = {json.dumps(args.name)}\nrole = "{args.role}"\n'
          f'password_hash = "{hash_password(password)}"')
    return term.EXIT_OK
