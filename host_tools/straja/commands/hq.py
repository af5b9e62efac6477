"""`straja hq` (the command post of many sites) and `straja hq bridge-config` (docs/hq.md)."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .. import term
from ..argtypes import (add_force_option, existing_file, existing_folder, host_port,
                        listen_address, one_line, positive_float, positive_int, read_text,
                        refuse_to_replace, remote_address, user_name, writable_file)
from ..cot import cot_url
from ..errors import StrajaError
from ..gateway import config as gwconfig
from ..gateway.config import topic_level

DEFAULT_DB = "/var/lib/straja/hq.db"
log = logging.getLogger("straja.hq")


def _level(what: str):
    def check(text: str) -> str:
        try:
            return topic_level(text, what)
        except gwconfig.ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    check.__name__ = what  # argparse names the type in its messages
    return check


def _site_position(text: str) -> tuple[str, tuple[float, float]]:
    """SITE=LAT,LON."""
    site, _, where = text.partition("=")
    try:
        lat, lon = (float(v) for v in where.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not SITE=LAT,LON: {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(f"not a latitude and longitude: {where!r}")
    return _level("site")(site), (lat, lon)


def _neighbours(text: str) -> tuple[str, list[str]]:
    """SITE=A,B,..."""
    site, sep, others = text.partition("=")
    if not sep or not others:
        raise argparse.ArgumentTypeError(f"not SITE=NEIGHBOUR,...: {text!r}")
    return _level("site")(site), [_level("site")(s) for s in others.split(",")]


def _per_site(pairs, option: str) -> dict:
    """--site-position or --neighbours as {site: value}: a site given twice is refused (which
    one to believe?), and so is a site among its own neighbours."""
    out = {}
    for site, value in pairs or ():
        if site in out:
            raise StrajaError(f"{option} gives site {site} twice", f"give {option} once a site",
                              term.EXIT_USAGE)
        if option == "--neighbours" and site in value:
            raise StrajaError(f"--neighbours {site}=...: a site is not its own neighbour",
                              "name the other sites", term.EXIT_USAGE)
        out[site] = value
    return out


def _check_ca_file(path) -> None:
    """A --ca-file that TLS cannot take (no PEM certificate in it) is a bad argument, refused
    before anything is made, not an error once the broker is dialled."""
    if not path:
        return
    import ssl
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as e:
        raise StrajaError(f"--ca-file {path}: not a CA certificate in PEM ({e.reason})",
                          "name the PEM file of the CA that signed the broker's certificate",
                          term.EXIT_USAGE) from None
    except OSError as e:  # (a file that fails as it is read)
        raise StrajaError(f"--ca-file {path}: cannot read it: {e.strerror or e}",
                          "name the PEM file of the CA that signed the broker's certificate",
                          term.EXIT_USAGE) from None


def _store(text: str) -> str:
    """A PostgreSQL URL, or an SQLite file that can be written."""
    from ..hq.store import is_url
    return text if is_url(text) else writable_file(text)


def _secret(path) -> str:
    """The password a --password-file holds: its one line (a trailing line break is not part of
    it); none, an empty one, or more lines are refused (written into the bridge config, a second
    line would be a setting of its own)."""
    if not path:
        return ""
    try:
        lines = read_text(path).splitlines()
    except OSError as e:
        raise StrajaError(f"--password-file {path}: {e.strerror}", "name a file holding the "
                          "password on one line", term.EXIT_USAGE) from None
    if len(lines) != 1 or not lines[0].strip():
        raise StrajaError(f"--password-file {path}: holds {len(lines)} lines; the password is "
                          "one line", "put the password alone on the file's one line",
                          term.EXIT_USAGE)
    try:
        return one_line(lines[0].strip())
    except argparse.ArgumentTypeError as e:
        raise StrajaError(f"--password-file {path}: {e}", "put the password alone on the "
                          "file's one line", term.EXIT_USAGE) from None


# straja hq's own options (no default) that bridge-config, given after them, does not use
HQ_ONLY = (("--broker", "broker"), ("--db", "db"), ("--web", "web"), ("--tiles", "tiles"),
           ("--config", "config"), ("--cot", "cot"), ("--site-position", "site_position"),
           ("--neighbours", "neighbours"), ("--duration", "duration"))


def run_bridge_config(args) -> int:
    from ..hq.bridge import BridgeSettings, site_broker_config
    unused = [option for option, dest in HQ_ONLY if getattr(args, dest) is not None]
    if unused:
        raise StrajaError(f"{', '.join(unused)}: straja hq's options, which bridge-config does "
                          "not use", "leave them out: straja hq bridge-config --site S --central "
                          "HOST:PORT ...", term.EXIT_USAGE)
    text = site_broker_config(BridgeSettings(
        site=args.site, central=args.central, listen=args.listen, topic_root=args.topic_root,
        data_dir=args.data, queue=args.queue, autosave_changes=args.autosave,
        username=args.username or "", password=_secret(args.password_file),
        ca_file=args.ca_file or ""))
    refuse_to_replace(args.out, "--out", args.force)
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
    return term.EXIT_OK


def _dashboard(args, cfg, db: str, hub):
    from ..hq.web import HqHistory
    from ..web.server import Dashboard
    return Dashboard(cfg, args.web, hub=hub, history=HqHistory(db), tiles=args.tiles).start()


def run_hq(args) -> int:
    if not args.broker:
        raise StrajaError("straja hq needs the central broker", "give --broker HOST:PORT, or a "
                          "subcommand (straja hq --help)", term.EXIT_USAGE)
    db = args.db or writable_file_or_error(DEFAULT_DB)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from ..hq.region import RegionFusion
    from ..hq.service import Hq, Subscriber
    from ..web.hub import Hub
    cfg = gwconfig.load(args.config)
    password = _secret(args.password_file)  # (before the store is made: a refusal makes nothing)
    _check_ca_file(args.ca_file)
    neighbours = _per_site(args.neighbours, "--neighbours")
    fusion = RegionFusion(args.handover, {s: set(n) for s, n in neighbours.items()}
                          if neighbours else None, _per_site(args.site_position, "--site-position"),
                          args.max_distance)
    sender = None
    if args.cot:
        from ..cot import CotConfig, CotSender
        sender = CotSender(CotConfig(url=args.cot))
    hub = Hub(cfg.web, region=True)
    hq = _open_hq(db, Hq, topic_root=args.topic_root, fusion=fusion, hub=hub, cot_sender=sender)
    dashboard = None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    subscriber = Subscriber(hq, *args.broker, client_id=args.client_id,
                            topic_root=args.topic_root, username=args.username or "",
                            password=password, ca_file=args.ca_file or "",
                            on_failure=stop.set)
    try:
        if args.web:
            dashboard = _dashboard(args, cfg, db, hub)
            log.info("dashboard on %s", dashboard.url)
        subscriber.start()
        log.info("subscribed to %s on %s:%d", subscriber.topic, *args.broker)
        stop.wait(args.duration)
    except KeyboardInterrupt:
        return term.EXIT_INTERRUPTED
    finally:
        subscriber.stop()
        if dashboard:
            dashboard.stop()
        if sender:
            sender.close()
        log.info("stopped; messages: %s", dict(hq.counts) or "none")
        hq.close()
    if subscriber.error is not None:
        raise StrajaError(f"straja hq could not store events: {subscriber.error}",
                          "check the disk and the store (--db); what was not stored was not "
                          "acknowledged, and the broker delivers it again", term.EXIT_FAILURE)
    return term.EXIT_OK


def _open_hq(db: str, hq_class, **settings):
    """The command post on its store, restored; a file SQLite cannot open as one (a pipe, a
    device, another file) is a usage error naming it."""
    import sqlite3
    try:
        hq = hq_class(db, **settings)
        hq.restore()
    except sqlite3.DatabaseError as e:
        raise StrajaError(f"{db} is not a command post store ({e})", "name the command post's "
                          "database, or a new file: --db FILE", term.EXIT_USAGE) from None
    return hq


def writable_file_or_error(path: str) -> str:
    try:
        return writable_file(path)
    except argparse.ArgumentTypeError as e:
        raise StrajaError(f"the default store: {e}", "give --db FILE", term.EXIT_USAGE) from None


def configure(p) -> None:
    p.description = ("The command post: subscribe to the central broker that the sites' brokers "
                     "bridge to, store every site's events once, fuse what neighbouring sites "
                     "see into region tracks, serve the region's dashboard and send CoT "
                     "(docs/hq.md).")
    p.add_argument("--broker", type=remote_address, metavar="HOST:PORT",
                   help="the central MQTT broker")
    p.add_argument("--db", type=_store, metavar="FILE|URL",
                   help=f"the command post's event store: an SQLite file (default {DEFAULT_DB}) "
                   "or a PostgreSQL URL, postgresql://USER@HOST/DATABASE (the `postgres` extra)")
    p.add_argument("--web", type=listen_address, metavar="HOST:PORT",
                   help="serve the region's dashboard there (docs/dashboard.md)")
    p.add_argument("--tiles", type=existing_folder, metavar="DIR",
                   help="local map tiles DIR/{z}/{x}/{y}.png drawn under the Region view's grid")
    p.add_argument("--config", type=existing_file, metavar="FILE",
                   help="TOML with the dashboard's [web] table (users, TLS; docs/gateway.md)")
    p.add_argument("--cot", type=cot_url, metavar="URL",
                   help="send region tracks as Cursor on Target (udp://, tcp://, tls://HOST:PORT)")
    p.add_argument("--topic-root", type=_level("topic root"), default="straja", metavar="ROOT")
    p.add_argument("--client-id", type=_level("client id"), default="straja-hq", metavar="ID",
                   help="its persistent session on the broker (one per command post)")
    p.add_argument("--username", type=user_name, metavar="NAME", help="on the central broker")
    p.add_argument("--password-file", type=existing_file, metavar="FILE",
                   help="a file holding the broker password")
    p.add_argument("--ca-file", type=existing_file, metavar="FILE",
                   help="TLS to the broker, checked against this CA certificate")
    p.add_argument("--handover", type=positive_float, default=10.0, metavar="S",
                   help="a drone unheard for up to S seconds between two sites stays one track")
    p.add_argument("--max-distance", type=positive_float, default=20_000.0, metavar="M",
                   help="alerts further apart than M metres (positions known) are not one track")
    p.add_argument("--site-position", type=_site_position, action="append", metavar="SITE=LAT,LON",
                   help="a site's position (repeatable): the distance check and CoT")
    p.add_argument("--neighbours", type=_neighbours, action="append", metavar="SITE=A,B",
                   help="a site's neighbours (repeatable; none given: all sites are)")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    p.set_defaults(func=run_hq)
    sub = p.add_subparsers(dest="hq_command", metavar="SUBCOMMAND")
    b = sub.add_parser("bridge-config", help="a site broker's mosquitto config bridging to the "
                       "central broker", description="Print (or write) the mosquitto.conf of a "
                       "site's broker: a local listener for the gateways, persistence, and a "
                       "QoS 1 bridge of the site's topics to the central broker (docs/hq.md).")
    b.add_argument("--site", type=_level("site"), required=True, help="the site's name")
    b.add_argument("--central", type=remote_address, required=True, metavar="HOST:PORT",
                   help="the central broker")
    b.add_argument("--listen", type=host_port, default=("127.0.0.1", 1883), metavar="HOST:PORT",
                   help="where the site's gateways publish (default 127.0.0.1:1883)")
    b.add_argument("--topic-root", type=_level("topic root"), default="straja", metavar="ROOT")
    b.add_argument("--data", type=one_line, default="/var/lib/mosquitto/", metavar="DIR",
                   help="the site broker's persistence folder")
    b.add_argument("--queue", type=positive_int, default=1_000_000, metavar="N",
                   help="messages held for the central broker while it is away")
    b.add_argument("--autosave", type=positive_int, default=1, metavar="N",
                   help="write persistence every N changes (1: lose nothing in a crash)")
    b.add_argument("--username", type=user_name, metavar="NAME", help="on the central broker")
    b.add_argument("--password-file", type=existing_file, metavar="FILE",
                   help="a file holding the central broker's password")
    b.add_argument("--ca-file", type=one_line, metavar="FILE",
                   help="TLS to the central broker, checked against this CA (path on the site)")
    b.add_argument("--out", type=writable_file, metavar="FILE", help="write here (default stdout)")
    add_force_option(b, "--out")
    b.set_defaults(func=run_bridge_config)
