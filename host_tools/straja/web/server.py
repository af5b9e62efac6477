"""Serving the dashboard beside a running gateway: uvicorn on a thread of its own.

`Dashboard.start` checks the address and the access rules before anything listens, attaches the
hub to the gateway (an event sink and a sweep tap of its pipeline) and returns once uvicorn
accepts connections; `stop` ends it.
"""
from __future__ import annotations

import threading
import time

from .. import term
from ..errors import StrajaError
from .auth import Authenticator, check_bind, parse_address, users_from_config
from ..gateway.position import SiteMap
from .hub import Hub

STARTUP_TIMEOUT_S = 15.0


def missing_extra() -> StrajaError:
    return StrajaError("the dashboard needs the `web` extra (Starlette, uvicorn, websockets)",
                       "pip install 'straja[web]' (make installs it)", term.EXIT_USAGE)


class Dashboard:
    def __init__(self, cfg, addr: str, topics=None, hub: Hub | None = None, history=None,
                 tiles=None):
        """cfg: the gateway config (its [web] table and its db); addr: "HOST:PORT"; straja hq
        gives its own hub and history (its store of every site) instead of the db, and its
        folder of local map tiles."""
        try:
            import uvicorn

            from .app import create_app
        except ImportError as e:
            raise missing_extra() from e
        self.host, self.port = parse_address(addr)
        users = users_from_config(cfg.web.users)
        check_bind(self.host, users)
        web = cfg.web
        if bool(web.tls_cert) != bool(web.tls_key):
            raise StrajaError("TLS needs both web.tls_cert and web.tls_key", code=term.EXIT_USAGE)
        if history is None and not cfg.db:
            raise StrajaError("the dashboard needs the event store", "set db in the config",
                              term.EXIT_USAGE)
        self.tls = bool(web.tls_cert)
        self.hub = hub or Hub(web, site=SiteMap(cfg.nodes))
        app = create_app(self.hub, Authenticator(users), cfg.db, topics, history, tiles)
        self.server = uvicorn.Server(uvicorn.Config(
            app, host=self.host, port=self.port, log_level="warning", ws="websockets-sansio",
            ssl_certfile=web.tls_cert or None, ssl_keyfile=web.tls_key or None))
        self.thread = threading.Thread(target=self.server.run, name="dashboard", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def attach(self, gateway) -> None:
        """Feed the hub from a gateway: its events and its pipeline's sweeps."""
        gateway.sinks.append(self.hub.sink)
        gateway.pipeline.sweep_taps.append(self.hub.sweep)

    def start(self) -> "Dashboard":
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise StrajaError(f"the dashboard could not listen on {self.host}:{self.port}",
                                  "is the port in use? try another with --web HOST:PORT",
                                  term.EXIT_USAGE)
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def serve(cfg, addr: str, gateway, topics=None) -> Dashboard:
    """A started dashboard on addr fed by gateway (topics: the MQTT routing of its store)."""
    dashboard = Dashboard(cfg, addr, topics)
    dashboard.attach(gateway)
    return dashboard.start()
