"""`straja gateway`, `straja events` and `straja replay` (docs/gateway.md)."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from datetime import datetime, timezone

from .. import term
from ..errors import StrajaError
from . import config as gwconfig
from . import mqtt, record, replay, store
from .events import Stored, dumps
from .ingest import Gateway
from .pipeline import Pipeline

DEFAULT_CONFIG = "/etc/straja/gateway.toml"


def _jsonl_sink(target: str):
    """A sink writing one JSON object per event line to stdout ("-") or a file (appended)."""
    stream = sys.stdout if target == "-" else open(target, "a", buffering=1)

    def sink(stored):
        for s in stored:
            stream.write(dumps(s.event, s.id) + "\n")
        stream.flush()

    return sink


def _load(args) -> gwconfig.GatewayConfig:
    cfg = gwconfig.load(args.config)
    changes = {"db": args.db, "jsonl": args.jsonl}
    if getattr(args, "port", None):
        changes["ports"] = tuple(args.port)
    if getattr(args, "record", None):
        changes["record"] = args.record
    if getattr(args, "no_discover", False):
        changes["discover"] = False
    if getattr(args, "mqtt_host", None):
        changes["mqtt"] = gwconfig.MqttConfig(**{**cfg.mqtt.__dict__, "host": args.mqtt_host,
                                                 "port": args.mqtt_port or cfg.mqtt.port})
    return gwconfig.override(cfg, **changes)


def _outputs(cfg):
    """(store, publisher, sinks) for a config."""
    topics = mqtt.topics_for(cfg.mqtt, cfg.gateway_id) if cfg.mqtt.host else None
    event_store = store.Store(cfg.db, topics=topics) if cfg.db else None
    publisher = mqtt.Publisher(cfg.mqtt, cfg.gateway_id, cfg.db).start() \
        if cfg.mqtt.host and cfg.db else None
    sinks = [_jsonl_sink(cfg.jsonl)] if cfg.jsonl else []
    return event_store, publisher, sinks


def _close(event_store, publisher) -> None:
    if publisher:
        publisher.stop()
    if event_store:
        event_store.close()


def run_gateway(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = _load(args)
        pipeline = Pipeline(cfg)
    except ValueError as e:  # ConfigError, or a value the pipeline refuses
        raise StrajaError(str(e), "see docs/gateway.md for the keys and their defaults",
                          term.EXIT_USAGE) from e
    if cfg.mqtt.host and not cfg.db:
        raise StrajaError("MQTT needs the event store (its outbox)", "set db in the config",
                          term.EXIT_USAGE)
    event_store, publisher, sinks = _outputs(cfg)
    recorder = record.RecordWriter(cfg.record, {"gateway_id": cfg.gateway_id,
                                                "started_ns": time.time_ns()}) if cfg.record else None
    gw = Gateway(cfg, pipeline, store=event_store, publisher=publisher, sinks=sinks,
                 recorder=recorder)
    signal.signal(signal.SIGTERM, lambda *_: gw.stop())  # systemd stops the service this way
    dashboard = None
    try:
        dashboard = _dashboard(args.web, cfg, gw, event_store)
        gw.run(args.duration)
    except KeyboardInterrupt:
        gw.close()
    finally:
        if dashboard:
            dashboard.stop()
        _close(event_store, publisher)
    return term.EXIT_OK


def _dashboard(addr, cfg, gw, event_store):
    """The live dashboard of docs/dashboard.md on addr ("HOST:PORT"), or None without one."""
    if not addr:
        return None
    from ..web.server import serve  # the `web` extra: only when asked for
    dashboard = serve(cfg, addr, gw, topics=event_store.topics if event_store else None)
    logging.getLogger("straja.gateway").info("dashboard on %s", dashboard.url)
    return dashboard


def run_replay(args) -> int:
    try:
        cfg = _load(args)
        pipeline = Pipeline(cfg)
        _, records = record.read(args.file)
    except (ValueError, OSError) as e:  # ConfigError, RecordingError, a missing file
        raise StrajaError(str(e), code=term.EXIT_USAGE) from e
    event_store, publisher, sinks = _outputs(cfg)
    if not sinks and not event_store:
        sinks = [_jsonl_sink("-")]

    def on_events(events):
        stored = event_store.write(events) if event_store else [Stored(e) for e in events]
        for sink in sinks:
            sink(stored)

    try:
        replay.feed(pipeline, records, speed=args.speed, on_events=on_events,
                    settle_s=args.settle)
    finally:
        _close(event_store, publisher)
    return term.EXIT_OK


def _time_arg(text: str) -> int:
    """An ISO time (UTC unless it says otherwise) or a number of ns since the epoch, to ns."""
    if text.isdigit():
        return int(text)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time or ns since the epoch: {text!r}")
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp() * 1e9)


def run_events(args) -> int:
    try:
        db = store.connect(args.db or gwconfig.load(args.config).db)
    except (gwconfig.ConfigError, OSError) as e:
        raise StrajaError(str(e), code=term.EXIT_USAGE) from e
    events = store.query_events(db, kinds=args.kind or (), node_id=args.node,
                                alert_id=args.alert, since_ns=args.since, until_ns=args.until,
                                limit=args.limit)
    if args.json:
        term.print_json(events)
        return term.EXIT_OK
    for e in events:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e["t_ns"] / 1e9))
        what = e.get("text") or " ".join(f"{k}={e[k]}" for k in ("node_id", "port", "track_id")
                                         if e.get(k) is not None)
        colour = {"alert_raised": "red", "alert_updated": "yellow", "alert_cleared": "green",
                  "node_offline": "yellow"}.get(e["kind"])
        kind = term.paint(f"{e['kind']:<15}", colour) if colour else f"{e['kind']:<15}"
        print(f"{e['id']:>7} {when} {kind} {what}")
    return term.EXIT_OK


def _common(p, db_help: str) -> None:
    p.add_argument("--config", default=None, metavar="FILE",
                   help=f"gateway config (TOML; e.g. {DEFAULT_CONFIG}); every key has a default")
    p.add_argument("--db", default=None, metavar="FILE", help=db_help)


def configure_gateway(p) -> None:
    p.description = ("Read every configured or discovered node, detect and fuse drone links, "
                     "raise alerts to SQLite, JSON lines and MQTT.")
    _common(p, "event store (SQLite); default from the config")
    p.add_argument("--port", action="append", metavar="PATH",
                   help="a node's port or a glob (repeatable; adds to discovery)")
    p.add_argument("--no-discover", action="store_true", help="open only the ports named")
    p.add_argument("--jsonl", metavar="FILE", help='events as JSON lines to FILE ("-": stdout)')
    p.add_argument("--record", metavar="FILE", help="record the raw node streams to FILE")
    p.add_argument("--mqtt-host", metavar="HOST", help="MQTT broker (overrides the config)")
    p.add_argument("--mqtt-port", type=int, metavar="N")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--web", metavar="HOST:PORT",
                   help="serve the live dashboard there (docs/dashboard.md; e.g. 127.0.0.1:8080)")
    p.set_defaults(func=run_gateway)


def configure_events(p) -> None:
    p.description = "Stored gateway events, oldest first."
    _common(p, "event store (SQLite); default from the config")
    p.add_argument("--kind", action="append", help="only this kind (repeatable), e.g. alert_raised")
    p.add_argument("--node", type=int, help="only events of this node id")
    p.add_argument("--alert", help="only events of this alert id")
    p.add_argument("--since", type=_time_arg, help="ISO time (UTC) or ns since the epoch")
    p.add_argument("--until", type=_time_arg, help="ISO time (UTC) or ns since the epoch")
    p.add_argument("--limit", type=int, help="only the newest N")
    p.add_argument("--json", action="store_true", help="JSON array of the stored events")
    p.set_defaults(func=run_events)


def configure_replay(p) -> None:
    p.description = ("Replay a `--record` file: the same pipeline, the same alerts. Events go to "
                     "--jsonl (stdout by default) and --db if given.")
    _common(p, "also store the events in this SQLite file")
    p.add_argument("file", help="recording made with `straja gateway --record`")
    p.add_argument("--speed", type=float, default=0.0,
                   help="pace: 1 = real time, 10 = ten times faster, 0 (default) = at once")
    p.add_argument("--jsonl", metavar="FILE", help='JSON lines to FILE ("-": stdout)')
    p.add_argument("--settle", type=float, default=30.0, metavar="S",
                   help="advance time by S seconds after the last record (ends open alerts)")
    p.set_defaults(func=run_replay)
