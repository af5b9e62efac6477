"""The `straja` command's entry point (and `python -m straja`): a Ctrl-C while the command's
modules are still being imported exits 130 quietly, as it does once straja.cli.main runs."""
import sys


def main() -> int:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        from .term import EXIT_INTERRUPTED
        return EXIT_INTERRUPTED
    return run()


if __name__ == "__main__":
    sys.exit(main())
