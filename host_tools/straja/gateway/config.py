"""Gateway configuration: a TOML file whose every key has a documented default (docs/gateway.md)."""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path

from .. import term
from ..argtypes import MAX_FLOAT, is_host_name, read_text
from ..cot import CotConfig
from ..errors import StrajaError


@dataclass(frozen=True)
class FusionConfig:
    track_timeout_s: float = 8.0   # an emitter back within this long of its last observation
                                   # is the same track (and alert)
    # a track ends this long after track_timeout_s without an observation: a node's core
    # confirms an emitter that came back only a few sweeps after its first burst (3 bursts:
    # up to ~4 s for a 40-channel RX5808 sweep)
    confirm_wait_s: float = 4.0
    # a track observed rarely is held through a silence of 10 of its median gaps, up to this long
    # (fusion.py): its alert clears up to this long after the link was last heard
    track_timeout_max_s: float = 30.0
    trend_window_s: float = 6.0    # received power over this window gives the trend
    trend_db: float = 3.0          # rise (fall) of at least this much: approaching (leaving)

    @property
    def longest_hold_s(self) -> float:
        """The longest a track is held without an observation (a rarely observed one's)."""
        return max(self.track_timeout_s, self.track_timeout_max_s)


@dataclass(frozen=True)
class AlertConfig:
    confirm_hits: int = 1          # observations before an alert is raised (each one is from a
    confirm_s: float = 0.0         # track the core confirmed) spread over at least this long
    update_min_s: float = 2.0      # updates of one alert at most this often (severity rises at once)
    downgrade_s: float = 5.0       # severity falls only after this long at the lower level
    known_clear_s: float = 30.0    # an alert whose track matches a known emitter this long is
                                   # cleared: several trend windows, so a drone's fading dips on a
                                   # known camera's channel do not end its alert
    # an alert cleared because its track ended is reopened (the same id), not raised anew, when
    # its emitter is back this soon (alerts.Alerts.reopen_for: a shadowing fade under the floor
    # lasts about its correlation time, 20-60 s; a drone out of range as long)
    reacquire_s: float = 60.0
    high_dbm: float = -60.0        # strongest power at or above this: severity high
    adaptive_scan: bool = True     # focus neighbouring nodes on the band of a raised alert
    focus_step_khz: int = 1000     # channel step of a focus plan
    focus_dwell_us: int = 0        # dwell of a focus plan; 0 keeps the running plan's dwell
    # a focus plan is a temporary plan (docs/firmware.md) sent again this often while its alert
    # lasts; the node drops it by itself FOCUS_TEMP_PERIODS refreshes after the last one
    focus_refresh_s: float = 5.0
    # name a 5.8 GHz video track OFDM or analog by a profile of its channel read after its
    # alert, which is updated with the family told (gateway/profiling.py; docs/detection.md,
    # "Video profile")
    video_profile: bool = True


@dataclass(frozen=True)
class MqttConfig:
    host: str = ""                 # empty: MQTT off
    port: int = 1883
    topic_root: str = "straja"
    site: str = "site"             # the site's name: a topic level (straja/v1/<site>/<gateway>)
    client_id: str = ""            # empty: "straja-<gateway id>"
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""              # empty with tls: the system CA store
    keepalive_s: int = 30
    window: int = 100              # messages handed to the client before acknowledgements
    # thinned spectra on spectrum/<node id> (QoS 0, live only: for straja hq's dashboard); per
    # node at most this many a second (its front ends take turns), 0: none
    spectrum_rate_hz: float = 1.0
    spectrum_bins: int = 128       # channels per spectrum at most (each group's strongest)

    def __post_init__(self):
        if self.host and not is_host_name(self.host):
            raise ConfigError(f"mqtt.host: not a host name or address: {self.host!r}"[:200])
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"mqtt.port must be 1..65535 (got {self.port})")
        if self.spectrum_rate_hz < 0 or self.spectrum_bins < 1:
            raise ConfigError("mqtt.spectrum_rate_hz must be 0 (none) or more, and "
                              "mqtt.spectrum_bins 1 or more")


@dataclass(frozen=True)
class RemoteIdConfig:
    source: str = ""               # companion source: JSON lines from a file or "-" (stdin)
    lost_s: float = 10.0           # a Remote ID drone not heard for this long is lost
    update_min_s: float = 1.0      # rid_updated at most this often per drone
    history: int = 120             # claimed positions kept per drone
    max_drones: int = 1000         # drones tracked at once; beyond, one heard only once is
                                   # forgotten first (a flood of addresses cannot grow memory)
    protected_areas: dict = field(default_factory=dict)  # name -> [[latitude, longitude], ...]
    max_eirp_dbm: float = 20.0     # the strongest Bluetooth transmitter a drone may carry
    min_eirp_dbm: float = -10.0    # the weakest
    rssi_margin_db: float = 15.0   # fading and antennas: RSSI beyond free space by more is flagged
    near_m: float = 300.0          # a weak RSSI is flagged only at nodes this close to the claim
    speed_factor: float = 1.5      # a jump faster than this times the claimed speed is flagged
    jump_margin_m: float = 30.0    # ... by more than this (GNSS noise)
    # linking an RF track to a Remote ID drone (gateway/ridlink.py)
    link_window_s: float = 3.0     # the drone heard this close to the track's last observation
    rf_max_eirp_dbm: float = 33.0  # the strongest drone video/control transmitter (2 W)
    rf_min_eirp_dbm: float = 0.0   # the weakest (1 mW)
    link_spread_db: float = 8.0    # two nodes' EIRPs a claim implies agree this closely (more
                                   # nodes: the same confidence, gateway/ridlink.py)
    link_min_nodes: int = 2        # ... at this many nodes with positions at least
    link_operator_m: float = 150.0  # a control link's powers place its handset this close to
                                    # the claimed operator (no place further fits them)

    def __post_init__(self):
        if not isinstance(self.protected_areas, dict):
            raise ConfigError("remote_id.protected_areas: expected a table of name = polygon")
        for name, polygon in self.protected_areas.items():
            # (checked here: a bad one would fail at the first Remote ID drone, not at start)
            if not (isinstance(polygon, list) and len(polygon) >= 3 and all(
                    isinstance(p, list) and len(p) == 2 and _is_position(*p) for p in polygon)):
                raise ConfigError(f"remote_id.protected_areas.{name}: expected a polygon of 3 "
                                  "or more [latitude, longitude] points in degrees")
        if not (self.link_spread_db > 0 and self.link_operator_m > 0):
            raise ConfigError("remote_id.link_spread_db and remote_id.link_operator_m must be "
                              "positive")
        if not (0 < self.lost_s < math.inf and 0 <= self.update_min_s < math.inf
                and self.history >= 1 and self.max_drones >= 1):
            raise ConfigError("remote_id: lost_s must be a positive number of seconds, "
                              "update_min_s 0 or more, history and max_drones 1 or more")


@dataclass(frozen=True)
class WebConfig:
    """The live dashboard (docs/dashboard.md); served only with `--web ADDR`."""
    users: tuple = ()              # [{name, role ("viewer" or "operator"), password_hash}]
    tls_cert: str = ""             # PEM certificate and key: HTTPS (and wss) when both are set
    tls_key: str = ""
    # straja hq's dashboard only (nodes of many sites, "site:gateway:node" -> [x_m, y_m]); a
    # gateway's map draws its [nodes.<id>] (gateway/position.py, SiteMap)
    node_positions: dict = field(default_factory=dict)
    map_image: str = ""            # optional local image drawn under the grid (offline sites)
    map_extent_m: tuple = ()       # [x0, y0, x1, y1]: where map_image lies on the grid
    sweep_rate_hz: float = 10.0    # spectrum updates sent to browsers, per node, at most
    max_bins: int = 256            # channels per spectrum sent to browsers, at most (peaks kept)


@dataclass(frozen=True)
class NodeConfig:
    """A node's surveyed position and antenna (`[nodes.<id>]`): the one place node positions are
    kept; Remote ID checks, localisation, the dashboard's map and CoT all read them."""
    latitude: float = math.nan     # degrees (WGS84); required
    longitude: float = math.nan
    height_m: float = 0.0          # antenna height above the WGS84 ellipsoid (HAE), metres
    azimuth_deg: float = math.nan  # a directional antenna's boresight, clockwise from north
    beamwidth_deg: float = 360.0   # its -3 dB beamwidth (360: omnidirectional)
    gain_db: dict = field(default_factory=dict)  # front-end name -> gain offset, dB (added to
                                                 # what the node reports: a cable, an amplifier)

    def __post_init__(self):
        if not -90.0 <= self.latitude <= 90.0:  # (nan fails too: not given)
            raise ValueError(f"latitude must be -90..90 degrees (got {self.latitude})")
        if not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude must be -180..180 degrees (got {self.longitude})")
        if not -500.0 <= self.height_m <= 9000.0:
            raise ValueError(f"height_m must be -500..9000 m (got {self.height_m})")
        if not (math.isnan(self.azimuth_deg) or 0.0 <= self.azimuth_deg < 360.0):
            raise ValueError(f"azimuth_deg must be 0..360 (got {self.azimuth_deg})")
        if not 0.0 < self.beamwidth_deg <= 360.0:
            raise ValueError(f"beamwidth_deg must be in (0, 360] (got {self.beamwidth_deg})")
        for name, db in self.gain_db.items():
            if not isinstance(db, (int, float)) or isinstance(db, bool) or not -60 <= db <= 60:
                raise ValueError(f"gain_db.{name} must be a number of dB in -60..60 (got {db!r})")


@dataclass(frozen=True)
class GatewayConfig:
    gateway_id: str = "gateway"
    ports: tuple = ()              # device paths or globs (e.g. /dev/serial/by-id/*)
    discover: bool = True          # also open ports whose USB identity is a known board
    node_ids: tuple = ()           # accept only these node ids (empty: any)
    neighbours: dict = field(default_factory=dict)  # "node id" -> [node ids] for adaptive scanning
    # no frame for this long: offline; longer than an idle node's STATUS period (the firmware's
    # IDLE_HEARTBEAT_MS, 5 s), so an idle node does not flap
    heartbeat_timeout_s: float = 7.5
    quarantine_s: float = 10.0     # a port whose data could not be handled is left this long
    max_nodes_per_port: int = 4    # node ids one port may present at once (spoofing bound)
    max_nodes: int = 256           # nodes known at once; an offline one is evicted for a new one
    event_window_s: float = 10.0   # per kind and source, events past event_burst in this window
    event_burst: int = 3           # are coalesced into one events_coalesced with their count
    port_backlog: int = 256        # items of a port waiting to be processed; past this its
                                   # oldest sweeps are dropped (overload event)
    stats_interval_s: float = 30.0
    rescan_s: float = 0.25         # how often missing ports are looked for
    db: str = "/var/lib/straja/gateway.db"
    jsonl: str = ""                # "-" stdout, a path, or empty for none
    record: str = ""               # recording file, or empty for none
    detect: dict = field(default_factory=dict)  # the detection core's settings (docs/gateway.md)
    fusion: FusionConfig = FusionConfig()
    alerts: AlertConfig = AlertConfig()
    mqtt: MqttConfig = MqttConfig()
    remote_id: RemoteIdConfig = RemoteIdConfig()
    web: WebConfig = WebConfig()
    nodes: dict = field(default_factory=dict)  # node id (int) -> NodeConfig ([nodes.<id>])
    # Cursor on Target to TAK (docs/gateway.md); stale_s, when not given: the track end
    # (fusion.track_timeout_s + fusion.confirm_wait_s)
    cot: CotConfig = CotConfig(stale_s=FusionConfig.track_timeout_s + FusionConfig.confirm_wait_s)

    def __post_init__(self):
        if not all(isinstance(p, str) and p for p in self.ports):
            raise ConfigError(f"config.ports: expected port paths or globs (strings), not "
                              f"{list(self.ports)!r}")
        if not all(_is_node_id(n) for n in self.node_ids):
            raise ConfigError(f"config.node_ids: expected node ids (0..65535), not "
                              f"{list(self.node_ids)!r}"[:300])
        for key, ids in self.neighbours.items():
            if not (_is_node_id_key(key) and isinstance(ids, list)
                    and all(_is_node_id(n) for n in ids)):
                raise ConfigError(f"config.neighbours: expected \"node id\" = [node ids] "
                                  f"(0..65535), not {key!r} = {ids!r}"[:300])


class ConfigError(StrajaError, ValueError):
    """A bad gateway config (a command's exit code 2)."""

    CODE = term.EXIT_USAGE
    FIX = "correct the config (docs/gateway.md, \"Configuration\", lists every key and its default)"


# A site or gateway name is one topic level; kept to these so that it never holds an MQTT
# wildcard or separator, and reads the same in a file name, a URL and a mosquitto config.
TOPIC_LEVEL = re.compile(r"[A-Za-z0-9_-]{1,64}")


def topic_level(name: str, what: str) -> str:
    """name, checked to be usable as one topic level; a ConfigError saying why not."""
    if not TOPIC_LEVEL.fullmatch(name):
        raise ConfigError(f"{what} {name!r} cannot be an MQTT topic level: use 1 to 64 letters, "
                          "digits, '-' or '_'")
    return name


def _build(cls, values: dict, where: str):
    known = {f.name: f for f in fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        f = known[key]
        default = f.default if f.default is not MISSING else f.default_factory()
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a table")
            try:
                value = _build(type(default), value, f"{where}.{key}")
            except ValueError as e:  # a table's own checks (__post_init__)
                if isinstance(e, ConfigError):
                    raise
                raise ConfigError(f"{where}.{key}: {e}") from None
        elif isinstance(default, dict) and not isinstance(value, dict):
            raise ConfigError(f"{where}.{key}: expected a table, not {value!r}")
        elif isinstance(default, tuple):
            value = tuple(value) if isinstance(value, list) else (value,)
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected true or false, not {value!r}")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            value = _number(f"{where}.{key}", value, default)
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{where}.{key}: expected a string, not {value!r}")
        out[key] = value
    return cls(**out)


def _is_node_id(value) -> bool:
    return type(value) is int and 0 <= value <= 0xFFFF


def _is_node_id_key(key) -> bool:
    """A node id as a TOML key gives it: ASCII digits ("²".isdigit() is true too)."""
    return isinstance(key, str) and key.isascii() and key.isdigit() and int(key) <= 0xFFFF


def _is_position(latitude, longitude) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in (latitude, longitude)) and abs(latitude) <= 90 and abs(longitude) <= 180


def _number(name: str, value, default: int | float) -> int | float:
    """A setting's number, of its default's type. TOML has nan and inf, and no setting means
    anything by them; none comes near 1e9 either (argtypes' bounds: a larger one is a typo that
    would overflow a clock or SQLite later). An int setting is a count, a size or a step: at
    least 1, or 0 where 0 is its default (then meaning none or keep). A time (`_s`) or a rate
    (`_hz`) is never negative."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, not {value!r}")
    if not math.isfinite(value) or abs(value) > MAX_FLOAT:
        raise ConfigError(f"{name}: expected a finite number of at most {MAX_FLOAT:g}, "
                          f"not {value!r}")
    if isinstance(default, int):
        low = 0 if default == 0 else 1
        if value != int(value) or value < low:
            raise ConfigError(f"{name}: expected a whole number of at least {low}, not {value!r}")
        return int(value)
    if name.endswith(("_s", "_hz")) and value < 0:
        raise ConfigError(f"{name}: a time or a rate is not negative, not {value!r}")
    return float(value)


def _nodes(values) -> dict:
    """[nodes.<id>] tables: node id -> NodeConfig, each checked with an error naming it."""
    if not isinstance(values, dict):
        raise ConfigError("config.nodes: expected tables [nodes.<node id>]")
    out = {}
    for key, table in values.items():
        where = f"config.nodes.{key}"
        if not _is_node_id_key(key):
            raise ConfigError(f"{where}: a node id is a number 0..65535, not {key!r}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table (latitude, longitude, height_m, ...)")
        for required in ("latitude", "longitude"):
            if required not in table:
                raise ConfigError(f"{where}: {required} is required")
        gains = table.get("gain_db", {})
        if not isinstance(gains, dict):
            raise ConfigError(f"{where}.gain_db: expected a table of front-end name = dB")
        try:
            out[int(key)] = _build(NodeConfig, {k: v for k, v in table.items() if k != "gain_db"}
                                   | ({"gain_db": dict(gains)} if gains else {}), where)
        except ValueError as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"{where}: {e}") from None
    return out


def from_dict(values: dict) -> GatewayConfig:
    """A config from the TOML layout: top-level [gateway] keys plus [detect], [mqtt], ... tables,
    and [nodes.<id>] for each node's position."""
    if not isinstance(values.get("gateway", {}), dict):
        raise ConfigError(f"config.gateway: expected a table, not {values['gateway']!r}")
    flat = dict(values.get("gateway", {}))
    for key, value in values.items():
        if key != "gateway":
            flat[key] = value
    cfg = _build(GatewayConfig, {k: v for k, v in flat.items() if k != "nodes"}, "config")
    if "nodes" in flat:
        cfg = replace(cfg, nodes=_nodes(flat["nodes"]))
    if "stale_s" not in flat.get("cot", {}):
        try:
            cfg = replace(cfg, cot=replace(cfg.cot, stale_s=track_end_s(cfg)))
        except ValueError as e:  # (CotConfig's own check)
            raise ConfigError(f"config.cot.stale_s (the track end, when not given): {e}") from None
    return cfg


def track_end_s(cfg: GatewayConfig, rarely_seen: bool = False) -> float:
    """How long after its last observation a track ends (and its alert clears); rarely_seen:
    the longest, a track observed rarely (fusion.py)."""
    hold = cfg.fusion.longest_hold_s if rarely_seen else cfg.fusion.track_timeout_s
    return hold + cfg.fusion.confirm_wait_s


def load(path: str | Path | None) -> GatewayConfig:
    if not path:
        return from_dict({})
    try:
        data = tomllib.loads(read_text(path))
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from e
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None  # (which file of the command's)


def override(cfg: GatewayConfig, **changes) -> GatewayConfig:
    """cfg with the given top-level keys replaced (command-line options win over the file)."""
    return replace(cfg, **{k: v for k, v in changes.items() if v is not None})
