"""`straja gateway`, `straja events`, `straja replay` and `straja known` (docs/gateway.md).

Building their parsers imports nothing heavy (`straja gateway --help` and an argument error come
at once on a Pi): the pipeline, the store (sqlite3), MQTT (paho) and the positions (NumPy) are
imported by the functions that run the commands.
"""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import glob
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from .. import term
from ..argtypes import (add_force_option, existing_file, extra_ports, host_name, input_file,
                        listen_address, node_id, non_negative_float, not_a_port, port_path,
                        positive_float, positive_int, recording_file, refuse_to_replace,
                        tcp_port, writable_file)
from ..cot import cot_url
from ..errors import StrajaError
from . import config as gwconfig
from . import logs, record, replay
from .events import KINDS, KnownRemoved, Stored, dumps

if TYPE_CHECKING:
    from . import store

DEFAULT_CONFIG = "/etc/straja/gateway.toml"
# The kinds of event the gateway stores (docs/gateway.md, Events), for `events --kind`.
EVENT_KINDS = tuple(KINDS)


def _jsonl_sink(target: str):
    """A sink writing one JSON object per event line to stdout ("-") or a file (appended)."""
    stream = sys.stdout if target == "-" else open(target, "a", buffering=1)

    def sink(stored):
        for s in stored:
            stream.write(dumps(s.event, s.id) + "\n")
        stream.flush()

    return sink


def _site(text: str) -> str:
    try:
        return gwconfig.topic_level(text, "site")
    except gwconfig.ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _load(args) -> gwconfig.GatewayConfig:
    cfg = gwconfig.load(args.config)
    changes = {"db": args.db, "jsonl": args.jsonl}
    if getattr(args, "port", None):
        changes["ports"] = tuple(args.port)
    if getattr(args, "record", None):
        changes["record"] = args.record
    if getattr(args, "no_discover", False):
        changes["discover"] = False
    if getattr(args, "remoteid_source", None):
        changes["remote_id"] = gwconfig.RemoteIdConfig(**{**cfg.remote_id.__dict__,
                                                          "source": args.remoteid_source})
    if getattr(args, "cot", None):
        changes["cot"] = dataclasses.replace(cfg.cot, url=args.cot)
    for_broker = [option for option, given in (("--mqtt-port", args.mqtt_port),
                                               ("--site", args.site)) if given]
    if for_broker and not (args.mqtt_host or cfg.mqtt.host):  # (they would be ignored)
        raise StrajaError(f"{' and '.join(for_broker)} without a broker: neither --mqtt-host "
                          "nor the config's mqtt.host names one", "add --mqtt-host HOST, or "
                          f"leave out {' and '.join(for_broker)}", term.EXIT_USAGE)
    if args.mqtt_host or for_broker:
        changes["mqtt"] = gwconfig.MqttConfig(**{**cfg.mqtt.__dict__,
                                                 "host": args.mqtt_host or cfg.mqtt.host,
                                                 "port": args.mqtt_port or cfg.mqtt.port,
                                                 "site": args.site or cfg.mqtt.site})
    return gwconfig.override(cfg, **changes)


def _check_ports(cfg) -> None:
    """The ports the config names can be ports (--port's were checked while parsing), and so
    can STRAJA_EXTRA_PORTS's when discovering: a file or a folder named there is a mistake that
    no rescan would mend."""
    for pattern in cfg.ports:
        kind = None if glob.has_magic(pattern) else not_a_port(pattern)
        if kind:
            raise StrajaError(f"ports: {pattern} is {kind}, not a serial port", "correct ports "
                              "in the config, or give --port PATH", term.EXIT_USAGE)
    if cfg.discover:
        extra_ports()


def _check_inputs(cfg) -> None:
    """The gateway has something to read: ports named (a glob waits for its nodes), discovery,
    or a Remote ID source. Without any it would run reading nothing, looking healthy."""
    if not (cfg.ports or cfg.discover or cfg.remote_id.source):
        raise StrajaError("no port to read: discovery is off (--no-discover, or discover = false "
                          "in the config) and no port is named", "give --port PATH or a glob "
                          "(repeatable; also ports in the config), or leave discovery on",
                          term.EXIT_USAGE)


def _check_outputs(cfg) -> None:
    """The files the config has the gateway write (the command line's were checked while
    parsing) can be written, before any of them is opened."""
    for key, check in (("db", writable_file), ("jsonl", writable_file),
                       ("record", recording_file)):
        try:
            if getattr(cfg, key):
                check(getattr(cfg, key))
        except argparse.ArgumentTypeError as e:
            raise StrajaError(f"{key}: {e}", f"correct {key} in the config, or give --{key} FILE",
                              term.EXIT_USAGE) from None


def _distinct_files(named: dict[str, str]) -> None:
    """The files a command reads or writes (name -> path) are different files: the store
    written into as JSON lines, or a recording appended to, would be ruined."""
    seen = {}
    for name, path in named.items():
        if not path or path == "-":
            continue
        other = seen.setdefault(Path(path).resolve(), name)
        if other != name:
            raise StrajaError(f"{other} and {name} name the same file: {path}",
                              f"give {name} a file of its own", term.EXIT_USAGE)


def open_store(path, topics=None) -> store.Store:
    """The event store at `path`, made when new; a file SQLite cannot open or another program's
    database is a usage error (the gateway and the demo alike)."""
    import sqlite3

    from . import store
    try:
        return store.Store(path, topics=topics)
    except sqlite3.DatabaseError as e:
        raise StrajaError(f"{path} is not a gateway event store ({e})", "name the gateway's "
                          "database, or a new file: --db FILE", term.EXIT_USAGE) from e


def _outputs(cfg):
    """(store, publisher, sinks) for a config."""
    from . import mqtt
    topics = mqtt.topics_for(cfg.mqtt, cfg.gateway_id) if cfg.mqtt.host else None
    event_store = open_store(cfg.db, topics) if cfg.db else None
    publisher = mqtt.Publisher(cfg.mqtt, cfg.gateway_id, cfg.db).start() \
        if cfg.mqtt.host and cfg.db else None
    sinks = [_jsonl_sink(cfg.jsonl)] if cfg.jsonl else []
    return event_store, publisher, sinks


def _cot(cfg):
    """The CoT publisher (a sink) when the config or --cot names a TAK URL, else None."""
    if not cfg.cot.url:
        return None
    from ..cot import CotPublisher
    return CotPublisher(cfg.cot, cfg.nodes)


def _close(event_store, publisher, cot=None) -> None:
    if cot:
        cot.close()
    if publisher:
        publisher.stop()
    if event_store:
        event_store.close()


def run_gateway(args) -> int:
    from .ingest import Gateway
    from .pipeline import Pipeline
    from .remoteid import CompanionReader
    if args.json and not args.survey:
        raise StrajaError("--json prints what a survey learned", "add --survey S",
                          term.EXIT_USAGE)
    if args.survey and args.duration:
        raise StrajaError("--survey S runs for its S seconds: --duration would be ignored",
                          "give one of them", term.EXIT_USAGE)
    logs.setup(args.log_level)
    try:
        cfg = _load(args)
        Pipeline(cfg)  # (checks the detection settings before anything is opened)
        _check_ports(cfg)
        _check_outputs(cfg)
    except ValueError as e:  # ConfigError, or a value the pipeline refuses
        raise StrajaError(str(e), "see docs/gateway.md for the keys and their defaults",
                          term.EXIT_USAGE) from e
    _distinct_files({"db": cfg.db, "jsonl": cfg.jsonl, "record": cfg.record})
    # (the config's record is rewritten each start, as the service's: --record is a person's)
    refuse_to_replace(args.record, "--record", args.force)
    if args.web:  # (its address and users, before the store is made)
        from ..web.auth import check_bind, parse_address, users_from_config
        check_bind(parse_address(args.web)[0], users_from_config(cfg.web.users))
    if cfg.mqtt.host and not cfg.db:
        raise StrajaError("MQTT needs the event store (its outbox)", "set db in the config",
                          term.EXIT_USAGE)
    if args.survey and not cfg.db:
        raise StrajaError("a survey learns into the event store", "set db in the config, or --db",
                          term.EXIT_USAGE)
    _check_inputs(cfg)
    event_store, publisher, sinks = _outputs(cfg)
    cot = _cot(cfg)
    # the nodes' normal plans as the previous gateway left them, whether it crashed, and the
    # site's known emitters
    pipeline = (Pipeline(cfg, event_store.normal_plans(), event_store.begin_run(),
                         event_store.known_emitters(), surveying=bool(args.survey))
                if event_store else Pipeline(cfg))
    recorder = record.RecordWriter(cfg.record, {"gateway_id": cfg.gateway_id,
                                                "started_ns": time.time_ns()}) if cfg.record else None
    gw = Gateway(cfg, pipeline, store=event_store, publisher=publisher,
                 sinks=[*sinks, logs.event_sink, *([cot] if cot else [])], recorder=recorder)
    if publisher and cfg.mqtt.spectrum_rate_hz > 0:
        pipeline.sweep_taps.append(publisher.sweep)
    logs.log.info("gateway %s starting: ports %s%s; store %s; JSON lines %s; MQTT %s; "
                  "recording %s", cfg.gateway_id, ", ".join(cfg.ports) or "none named",
                  " and discovered ones" if cfg.discover else "", cfg.db or "none",
                  cfg.jsonl or "none", f"{cfg.mqtt.host}:{cfg.mqtt.port}" if cfg.mqtt.host
                  else "none", cfg.record or "none")
    if cfg.remote_id.source:
        CompanionReader(cfg.remote_id.source, gw.queue).start()
    signal.signal(signal.SIGTERM, lambda *_: gw.stop())  # systemd stops the service this way
    dashboard = None
    try:
        dashboard = _dashboard(args.web, cfg, gw, event_store)
        gw.run(args.survey or args.duration)
        if args.survey:
            _print_known(event_store.known_emitters(), args.json)
    except KeyboardInterrupt:
        gw.close()
        return term.EXIT_INTERRUPTED
    finally:
        if dashboard:
            dashboard.stop()
        _close(event_store, publisher, cot)
    return term.EXIT_OK


def _replay_config(args) -> gwconfig.GatewayConfig:
    """The config's detection settings with only the outputs the command line names: a replay
    never writes the live store, recording or JSON lines of the config, and reaches its MQTT
    broker only with --mqtt."""
    cfg = gwconfig.load(args.config)
    if args.mqtt and not (cfg.mqtt.host and args.db):
        raise StrajaError("--mqtt needs the config's broker (mqtt.host) and --db (its outbox)",
                          "give --config FILE with an [mqtt] host, and --db FILE",
                          term.EXIT_USAGE)
    mqtt_cfg = cfg.mqtt if args.mqtt else gwconfig.MqttConfig()
    cot = dataclasses.replace(cfg.cot, url=args.cot or "")  # (TAK only when asked for)
    return gwconfig.override(cfg, db=args.db or "", record="", mqtt=mqtt_cfg, cot=cot,
                             jsonl=args.jsonl or ("" if args.db else "-"))


def _dashboard(addr, cfg, gw, event_store):
    """The live dashboard of docs/dashboard.md on addr ("HOST:PORT"), or None without one."""
    if not addr:
        return None
    from ..web.server import serve  # the `web` extra: only when asked for
    dashboard = serve(cfg, addr, gw, topics=event_store.topics if event_store else None)
    logs.log.info("dashboard on %s", dashboard.url)
    return dashboard


def run_replay(args) -> int:
    from .pipeline import Pipeline, describe_counts
    try:
        cfg = _replay_config(args)
        pipeline = Pipeline(cfg)
        _, records = record.read(args.file)
        records.check()  # (damage refused before any output is made)
    except StrajaError:  # ConfigError, RecordingError: with their fixes
        raise
    except OSError as e:  # (a file that fails as it is read: an I/O error, /proc/self/mem)
        raise StrajaError(f"{args.file}: cannot read it: {e.strerror or e}",
                          "copy the recording to a disk that reads it whole, then replay the "
                          "copy", term.EXIT_USAGE) from e
    except ValueError as e:  # a detection setting the pipeline refuses
        raise StrajaError(str(e), gwconfig.ConfigError.FIX, term.EXIT_USAGE) from e
    _distinct_files({"the recording": str(args.file), "--db": cfg.db, "--jsonl": cfg.jsonl})
    if not cfg.db:
        _said("events to stdout only, stored nowhere (--db FILE stores them)")
    event_store, publisher, sinks = _outputs(cfg)
    cot = _cot(cfg)
    sinks += [cot] if cot else []

    def on_events(events):
        stored = event_store.write(events) if event_store else [Stored(e) for e in events]
        for sink in sinks:
            sink(stored)

    try:
        replay.feed(pipeline, records, speed=args.speed, on_events=on_events,
                    settle_s=args.settle, gap_max_s=args.max_gap, on_gap=_gap_skipped(args))
    finally:
        _close(event_store, publisher, cot)
        _said(f"replay: input not taken as it came: {describe_counts(pipeline.input_counts())}")
    if records.unknown:
        _said(f"replay: {records.unknown} records of a kind this version does not know skipped")
    if records.cut_at is not None:
        _said(f"replay: {args.file} ends inside the record at byte {records.cut_at} (cut short, "
              "as by a crash): replayed up to the record before it")
    return term.EXIT_OK


def _said(text: str) -> None:
    """A line about the replay itself on stderr (stdout may carry its events)."""
    print(term.paint(text, "dim", sys.stderr), file=sys.stderr)


def _gap_skipped(args):
    """Says on stderr that a paced replay did not sleep through a jump in the recording's times."""
    def said(gap_s: float, t_ns: int) -> None:
        at = datetime.fromtimestamp(t_ns / 1e9, timezone.utc).isoformat(timespec="seconds")
        jump = f"{gap_s:.0f} s forwards" if gap_s > 0 else f"{-gap_s:.0f} s backwards"
        _said(f"replay: the recording's times jump {jump} at {at}: paced as {args.max_gap:g} s "
              "(--max-gap)")
    return said


def _time_arg(text: str) -> int:
    """An ISO time (UTC unless it says otherwise) or a number of ns since the epoch, to ns."""
    if text.isdigit():
        t_ns = int(text)
    else:
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an ISO time or ns since the epoch: {text!r}")
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        t_ns = int(t.timestamp() * 1e9)
    if not 0 <= t_ns < 2**63:  # (the store's times are SQLite integers, ns since 1970)
        raise argparse.ArgumentTypeError(f"outside 1970..2262: {text!r}")
    return t_ns


def _open_store(path: str):
    """The gateway's existing event store at `path` (never a new, empty one)."""
    import sqlite3

    from . import store
    if not Path(path).is_file():
        raise StrajaError(f"no event store at {path}", "name the gateway's database: --db FILE "
                          "(the db key of its config)", term.EXIT_USAGE)
    if not Path(path).stat().st_size:  # (SQLite would make a new store in it)
        raise StrajaError(f"{path} is empty, not a gateway event store",
                          "name the gateway's database: --db FILE", term.EXIT_USAGE)
    try:
        return store.connect(path)
    except sqlite3.DatabaseError as e:
        raise StrajaError(f"{path} is not a gateway event store ({e})",
                          "name the gateway's database: --db FILE", term.EXIT_USAGE) from e


def _store_path(args) -> str:
    """The store --db names, else the config's. A config named is read beside --db too: one
    that is not a config (a typo, the wrong file) is refused, not passed over unread."""
    db = gwconfig.load(args.config).db
    return str(args.db) if args.db else db


def run_events(args) -> int:
    from . import store
    from .position import position_text  # (NumPy)
    if args.since is not None and args.until is not None and args.since > args.until:
        raise StrajaError("--since is after --until: no event can be in between",
                          "give --since before --until", term.EXIT_USAGE)
    db = _open_store(_store_path(args))
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
        where = position_text(e)
        what += f"; {where}" if where else ""
        colour = {"alert_raised": "red", "alert_updated": "yellow", "alert_cleared": "green",
                  "node_offline": "yellow"}.get(e["kind"])
        kind = term.paint(f"{e['kind']:<15}", colour) if colour else f"{e['kind']:<15}"
        print(f"{e['id']:>7} {when} {kind} {term.visible(what)}")
    return term.EXIT_OK


def _print_known(emitters, as_json: bool) -> None:
    if as_json:
        term.print_json([{"known_id": k.known_id, "families": list(k.families),
                          "lo_khz": k.lo_khz, "hi_khz": k.hi_khz, "source": k.source,
                          "nodes": [{"node_id": n, "lo_dbm": lo, "hi_dbm": hi}
                                    for n, (lo, hi) in sorted(k.dbm.items())]}
                         for k in emitters])
        return
    if not emitters:
        print("no known emitters")
    for k in emitters:
        nodes = ", ".join(f"node {n} {lo:.0f}..{hi:.0f} dBm" for n, (lo, hi) in sorted(k.dbm.items()))
        print(f"{k.known_id:>7} {'/'.join(k.families)} {k.lo_khz / 1000:.0f}-"
              f"{k.hi_khz / 1000:.0f} MHz, {nodes} ({k.source})")


def _writable_store(args) -> store.Store:
    """The gateway's existing event store, to write known emitters into."""
    from . import store
    path = _store_path(args)
    _open_store(path).close()  # (an existing store, not a new one)
    return store.Store(path)


def run_known(args) -> int:
    from . import store
    from .known import added_from_alert
    event_store = _writable_store(args)
    try:
        known = {k.known_id: k for k in event_store.known_emitters()}
        if args.known_command == "forget":
            if args.known_id not in known:
                raise StrajaError(f"no known emitter {args.known_id}",
                                  "`straja known list` shows their ids", term.EXIT_USAGE)
            event_store.write([KnownRemoved(time.time_ns(), args.known_id, getpass.getuser())])
        elif args.known_command == "add":
            alert = store.latest_alert(event_store.db, args.alert_id)
            if alert is None:
                raise StrajaError(f"no alert {args.alert_id} in the store",
                                  "`straja events --kind alert_raised` lists them", term.EXIT_USAGE)
            event_store.write([added_from_alert(alert, time.time_ns(), getpass.getuser())])
        _print_known(event_store.known_emitters(), args.json)
    finally:
        event_store.close()
    return term.EXIT_OK


def _common(p, db_help: str, db_type) -> None:
    p.add_argument("--config", default=None, metavar="FILE", type=existing_file,
                   help=f"gateway config (TOML; e.g. {DEFAULT_CONFIG}); every key has a default")
    p.add_argument("--db", default=None, metavar="FILE", type=db_type, help=db_help)


def configure_gateway(p) -> None:
    p.description = ("Read every configured or discovered node, detect and fuse drone links, "
                     "raise alerts to SQLite, JSON lines and MQTT.")
    _common(p, "event store (SQLite); default from the config", writable_file)
    p.add_argument("--port", action="append", metavar="PATH", type=port_path,
                   help="a node's port or a glob (repeatable; adds to discovery)")
    p.add_argument("--no-discover", action="store_true", help="open only the ports named")
    p.add_argument("--jsonl", metavar="FILE", type=writable_file,
                   help='events as JSON lines to FILE ("-": stdout)')
    p.add_argument("--record", metavar="FILE", type=recording_file,
                   help="record the raw node streams to FILE")
    add_force_option(p, "--record")
    p.add_argument("--mqtt-host", type=host_name, metavar="HOST",
                   help="MQTT broker (overrides the config)")
    p.add_argument("--mqtt-port", type=tcp_port, metavar="N",
                   help="its port (overrides the config; needs a broker: --mqtt-host or mqtt.host)")
    p.add_argument("--cot", type=cot_url, metavar="URL", help="send alerts' positions and the "
                   "nodes to TAK as Cursor on Target: udp://239.2.3.1:6969 (ATAK's multicast), "
                   "udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (overrides the config)")
    p.add_argument("--site", type=_site, metavar="NAME",
                   help="the site's name in the MQTT topics straja/v1/<site>/<gateway_id>/... "
                   "(overrides the config's mqtt.site; docs/hq.md)")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    p.add_argument("--remoteid-source", metavar="FILE", type=input_file,
                   help='Remote ID from a companion: JSON lines with the payload hex ("-": stdin)')
    p.add_argument("--web", type=listen_address, metavar="HOST:PORT",
                   help="serve the live dashboard there (docs/dashboard.md; e.g. 127.0.0.1:8080)")
    p.add_argument("--log-level", choices=logs.LEVELS, default="info",
                   help="least level logged on stderr (journald under systemd; default info: "
                   "starts, ports, nodes, MQTT, alerts; debug adds node statistics)")
    p.add_argument("--survey", type=positive_float, metavar="S",
                   help="learn the site's fixed emitters for S seconds (no alerts meanwhile) into "
                   "the store as known emitters, print them and stop")
    p.add_argument("--json", action="store_true", help="with --survey: print them as JSON")
    p.set_defaults(func=run_gateway)


def configure_known(p) -> None:
    p.description = ("The site's known emitters (docs/gateway.md, \"Known emitters\"): fixed "
                     "transmitters that raise no alert while they stay as they are. Learned by "
                     "`straja gateway --survey S`, or from an alert here or on the dashboard. A "
                     "running gateway follows changes within a second.")
    sub = p.add_subparsers(dest="known_command", metavar="KNOWNCOMMAND", required=True)
    commands = (
        ("list", "list the known emitters", ()),
        ("forget", "forget a known emitter: it alerts again",
         (("known_id", positive_int, "its id (`straja known list`)"),)),
        ("add", "learn an alert's emitter as known (an operator's acknowledgement)",
         (("alert_id", str, "the alert id (`straja events`)"),)),
    )
    for name, help_text, positionals in commands:
        c = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:]
                           + "; then list them.")
        for arg, arg_type, arg_help in positionals:
            c.add_argument(arg, type=arg_type, help=arg_help)
        _common(c, "event store (SQLite); default from the config", existing_file)
        c.add_argument("--json", action="store_true", help="list them as a JSON array")
        c.set_defaults(func=run_known)


def configure_events(p) -> None:
    p.description = "Stored gateway events, oldest first."
    _common(p, "event store (SQLite); default from the config", existing_file)
    p.add_argument("--kind", action="append", choices=EVENT_KINDS, metavar="KIND",
                   help="only this kind (repeatable), e.g. alert_raised; one of: "
                   + ", ".join(EVENT_KINDS))
    p.add_argument("--node", type=node_id, help="only events of this node id")
    p.add_argument("--alert", help="only events of this alert id")
    p.add_argument("--since", type=_time_arg, help="ISO time (UTC) or ns since the epoch")
    p.add_argument("--until", type=_time_arg, help="ISO time (UTC) or ns since the epoch")
    p.add_argument("--limit", type=positive_int, help="only the newest N")
    p.add_argument("--json", action="store_true", help="JSON array of the stored events")
    p.set_defaults(func=run_events)


def configure_replay(p) -> None:
    p.description = ("Replay a `--record` file: the same pipeline, the same alerts. Events go "
                     "only where the options say: --jsonl (stdout when neither --jsonl nor --db "
                     "is given), --db, and the config's MQTT broker with --mqtt. The config "
                     "gives the detection settings; its db, jsonl, record and mqtt are not used.")
    _common(p, "store the events in this SQLite file (default: none)", writable_file)
    p.add_argument("file", type=existing_file, help="recording made with `straja gateway --record`")
    p.add_argument("--speed", type=non_negative_float, default=0.0,
                   help="pace: 1 = real time, 10 = ten times faster, 0 (default) = at once")
    p.add_argument("--max-gap", type=positive_float, default=replay.GAP_MAX_S, metavar="S",
                   help="with --speed, a jump in the recording's times longer than S seconds "
                        "(a gateway stopped for hours, a clock set back) is paced as S "
                        f"seconds, and said on stderr (default {replay.GAP_MAX_S:g})")
    p.add_argument("--jsonl", metavar="FILE", type=writable_file,
                   help='JSON lines to FILE ("-": stdout)')
    p.add_argument("--mqtt", action="store_true", help="also publish to the config's MQTT broker "
                   "(needs --db: the outbox)")
    p.add_argument("--cot", type=cot_url, metavar="URL",
                   help="also send the alerts' positions to TAK (as `straja gateway --cot`)")
    p.add_argument("--settle", type=non_negative_float, default=30.0, metavar="S",
                   help="advance time by S seconds after the last record (ends open alerts)")
    p.set_defaults(func=run_replay)
