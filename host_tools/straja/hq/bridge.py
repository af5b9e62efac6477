"""The site broker's mosquitto configuration: a local listener for the site's gateways and a
bridge that forwards the site's topics to the central broker (docs/hq.md).

What makes the bridge lose nothing while the uplink or the central broker is down:
- `topic <root>/v1/<site>/# out 1`: only this site's topics go out, at QoS 1;
- `cleansession false` (and `local_cleansession false`): both brokers keep the bridge's session,
  so what is queued for it survives a reconnection;
- `persistence true` with `autosave_on_changes`: the queue survives a restart of the site broker;
- `max_queued_messages`: how much the site broker holds for the bridge (mosquitto's default,
  1000, would drop events during a long outage).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..gateway.mqtt import site_topic, topic_level


@dataclass(frozen=True)
class BridgeSettings:
    site: str
    central: tuple[str, int]             # the central broker's host and port
    listen: tuple[str, int] = ("127.0.0.1", 1883)  # where the site's gateways publish
    topic_root: str = "straja"
    data_dir: str = "/var/lib/mosquitto/"
    queue: int = 1_000_000               # messages held for the bridge while it is down
    autosave_changes: int = 1            # persistence written every this many changes
    username: str = ""                   # on the central broker
    password: str = ""
    ca_file: str = ""                    # set: TLS to the central broker, checked against it


def site_broker_config(s: BridgeSettings) -> str:
    """mosquitto.conf text for the site broker of s.site."""
    site = topic_level(s.site, "site")
    listen_host, listen_port = s.listen
    central_host, central_port = s.central
    lines = [
        f"# Straja site broker for site {site!r}: made by `straja hq bridge-config` (docs/hq.md)",
        f"listener {listen_port} {listen_host}",
        "allow_anonymous true" if listen_host in ("127.0.0.1", "::1", "localhost")
        else "# a listener beyond this machine: add password_file and allow_anonymous false",
        "persistence true",
        f"persistence_location {s.data_dir.rstrip('/')}/",
        "autosave_on_changes true",
        f"autosave_interval {s.autosave_changes}",
        f"max_queued_messages {s.queue}",
        "max_queued_bytes 0",
        "",
        f"connection straja-{site}",
        f"address {central_host}:{central_port}",
        f"topic {site_topic(s.topic_root, site)}/# out 1",
        "bridge_protocol_version mqttv311",
        "cleansession false",
        "local_cleansession false",
        f"remote_clientid straja-bridge-{site}",
        f"local_clientid straja-bridge-{site}-local",
        "try_private true",
        "start_type automatic",
        "restart_timeout 1 10",
        "keepalive_interval 10",
    ]
    if s.username:
        lines.append(f"remote_username {s.username}")
    if s.password:
        lines.append(f"remote_password {s.password}")
    if s.ca_file:
        lines += [f"bridge_cafile {s.ca_file}", "bridge_insecure false"]
    return "\n".join(lines) + "\n"
