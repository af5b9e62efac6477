"""The gateway's log (docs/gateway.md, "Logs"): one line per start, port and node change, MQTT
connection change and alert, on stderr, which journald collects under systemd.

Under systemd (JOURNAL_STREAM set) each line starts with its syslog priority (`<4>`), which
journald reads as the entry's priority (`journalctl -p warning` then filters); elsewhere lines
carry the time and the level's name.
"""
from __future__ import annotations

import logging
import os
import sys

from .. import term
from . import events as ev

LEVELS = ("debug", "info", "warning", "error")
log = logging.getLogger("straja.gateway")

# syslog priorities of the logging levels (sd-daemon(3): "<N>" prefixes on stderr)
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}

# The level of each kind of event in the log: what a person must act on is a warning; the
# periodic node statistics are debug; every other event is info.
_EVENT_LEVEL = {ev.AlertRaised: logging.WARNING, ev.NodeOffline: logging.WARNING,
                ev.NodeRestarted: logging.WARNING, ev.SourceQuarantined: logging.WARNING,
                ev.NodeIdConflict: logging.WARNING, ev.Overload: logging.WARNING,
                ev.CommandFailed: logging.WARNING, ev.RidAreaEntered: logging.WARNING,
                ev.NodeStats: logging.DEBUG}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


def setup(level: str = "info", stream=None) -> None:
    """Log the `straja` loggers at `level` (one of LEVELS) and above to `stream` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("straja")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def event_level(event: ev.Event) -> int:
    return _EVENT_LEVEL.get(type(event), logging.INFO)


def event_sink(stored) -> None:
    """A gateway sink: each event as one log line at its level (alerts say what they are; what
    a node sent in it shown escaped, `term.visible`)."""
    for s in stored:
        level = event_level(s.event)
        if not log.isEnabledFor(level):
            continue
        fields = ev.to_json(s.event)
        text = fields.pop("text", None)
        fields.pop("t_ns", None)
        kind = fields.pop("kind")
        detail = text or " ".join(f"{k}={v}" for k, v in fields.items()
                                  if not isinstance(v, (list, dict)))
        log.log(level, "%s: %s", kind, term.visible(detail))
