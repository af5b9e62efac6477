"""The dashboard's access rules, its thinning of spectra and its stop, without a browser
(docs/dashboard.md).

The application runs in Starlette's TestClient over a real SQLite event store; the browser test
(tests/test_web_browser.py) drives the same application in Chromium."""
from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request

import numpy as np
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from straja.errors import StrajaError
from straja.gateway import events as ev
from straja.gateway import store
from straja.gateway.config import GatewayConfig, NodeConfig, WebConfig, from_dict
from straja.gateway.position import SiteMap
from straja.gateway.spectrum import decimate_peaks
from straja.protocol import Sweep, dbm_to_rssi_code
from straja.web import auth
from straja.web.app import create_app
from straja.web.hub import Hub
from straja.web.server import Dashboard

T = 1_700_000_000_000_000_000
# one hash per role, made once: scrypt is slow on purpose
PASSWORDS = {"olga": ("operator", "correct horse 1"), "vic": ("viewer", "battery staple 2")}
USERS = [{"name": name, "role": role, "password_hash": auth.hash_password(password)}
         for name, (role, password) in PASSWORDS.items()]


def basic(name: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def test_hash_verifies_only_its_password_and_is_salted():
    stored = USERS[0]["password_hash"]
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert auth.verify_password(stored, "correct horse 1")
    assert not auth.verify_password(stored, "correct horse 2")
    assert auth.hash_password("same") != auth.hash_password("same")  # a fresh salt each time
    salt = bytes(16)
    assert auth.hash_password("same", salt) == auth.hash_password("same", salt)


@pytest.mark.parametrize("bad", ["", "plain-text", "scrypt$1$2$3$!!$!!", "md5$1$2$3$AA==$AA=="])
def test_malformed_hash_is_a_clear_config_error(bad):
    with pytest.raises(StrajaError, match="web.users\\[0\\].*straja web-password"):
        auth.users_from_config([{"name": "a", "role": "viewer", "password_hash": bad}])


def test_unknown_role_and_missing_keys_are_refused():
    with pytest.raises(StrajaError, match="role 'admin' is not one of viewer, operator"):
        auth.users_from_config([{**USERS[0], "role": "admin"}])
    with pytest.raises(StrajaError, match="name, role and password_hash"):
        auth.users_from_config([{"name": "a", "password": "x"}])


@pytest.mark.parametrize("name", ["", "ops:night", "a\nb", "\x1b[2J", "\u202eevil", "x" * 65, 7])
def test_a_user_name_no_browser_can_log_in_with_is_refused(name, capsys):
    """HTTP Basic ends a name at its first ':' and a login prompt types no control character:
    such a name (once printed by web-password and taken by the config) could never log in."""
    with pytest.raises(StrajaError, match="web.users\\[0\\]: .* cannot be a user's name"):
        auth.users_from_config([{**USERS[0], "name": name}])
    if isinstance(name, str):
        from straja import cli
        with pytest.raises(SystemExit) as refused:
            cli.main(["web-password", name])
        assert refused.value.code == 2
        assert "argument name: " in capsys.readouterr().err
    assert auth.user_name("Olga K. (night shift)") == "Olga K. (night shift)"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "gateway.local"])
def test_non_loopback_bind_without_users_is_refused(host):
    with pytest.raises(StrajaError, match="without a password") as e:
        auth.check_bind(host, {})
    assert e.value.code == 2
    auth.check_bind(host, auth.users_from_config(USERS))  # with users: allowed


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_bind_needs_no_users(host):
    auth.check_bind(host, {})


def test_dashboard_refuses_before_listening(tmp_path):
    cfg = GatewayConfig(db=str(tmp_path / "e.db"))
    with pytest.raises(StrajaError, match="without a password"):
        Dashboard(cfg, "0.0.0.0:8080")
    with pytest.raises(StrajaError, match="not an address"):
        Dashboard(cfg, "127.0.0.1:http")
    cfg = from_dict({"gateway": {"db": str(tmp_path / "e.db")}, "web": {"tls_cert": "c.pem"}})
    with pytest.raises(StrajaError, match="both web.tls_cert and web.tls_key"):
        Dashboard(cfg, "127.0.0.1:8080")


def test_addresses():
    assert auth.parse_address("0.0.0.0:8443") == ("0.0.0.0", 8443)
    assert auth.parse_address("[::1]:8080") == ("::1", 8080)
    assert auth.parse_address("8080") == ("127.0.0.1", 8080)


def alert(alert_id="A1-1") -> ev.AlertRaised:
    return ev.AlertRaised(T, "T1-1", "analog_fm_video", 5_790_000, 5_810_000, T - 5, T, 4,
                          (ev.TrackNode(1, -61.5, T - 5, T),), alert_id, "high", "approaching",
                          T - 5, "analog FPV video", "HIGH: analog FPV video")


@pytest.fixture
def site(tmp_path):
    """(hub, db path, client factory) of an application with one raised alert stored."""
    db = str(tmp_path / "events.db")
    writer = store.Store(db)
    hub = Hub(WebConfig(), site=SiteMap({1: NodeConfig(45.0, 25.0)}))
    hub.sink(writer.write([alert()]))
    writer.close()

    def client(users):
        app = create_app(hub, auth.Authenticator(auth.users_from_config(users)), db)
        return TestClient(app)
    return hub, db, client


def test_roles_over_http(site):
    hub, db, client = site
    with client(USERS) as c:
        assert c.get("/api/state").status_code == 401
        assert c.get("/api/state").headers["www-authenticate"].startswith("Basic")
        assert c.get("/static/app.js").status_code == 401
        assert c.get("/api/state", headers=basic("olga", "wrong")).status_code == 401
        state = c.get("/api/state", headers=basic("vic", "battery staple 2")).json()
        assert state["user"] == {"name": "vic", "role": "viewer"}
        assert [a["alert_id"] for a in state["alerts"]] == ["A1-1"]
        refused = c.post("/api/alerts/A1-1/ack", headers=basic("vic", "battery staple 2"))
        assert refused.status_code == 403 and "only operators" in refused.json()["detail"]
        assert c.post("/api/alerts/A9-9/ack", headers=basic("olga", "correct horse 1")) \
            .status_code == 404
        done = c.post("/api/alerts/A1-1/ack", headers=basic("olga", "correct horse 1")).json()
        assert done["kind"] == "alert_acknowledged" and done["by"] == "olga"
    # stored in the event log, and shown with the alert
    assert [(e["alert_id"], e["by"]) for e in store.query_events(
        store.connect(db), kinds=["alert_acknowledged"])] == [("A1-1", "olga")]
    assert hub.snapshot()["alerts"][0]["acknowledged"]["by"] == "olga"


def test_local_map_tiles_are_served_to_users_only(site, tmp_path):
    hub, db, _ = site
    (tmp_path / "tiles" / "12" / "2332").mkdir(parents=True)
    (tmp_path / "tiles" / "12" / "2332" / "1467.png").write_bytes(b"\x89PNG a tile")
    (tmp_path / "tiles" / "notes").mkdir()  # not a zoom level
    app = create_app(hub, auth.Authenticator(auth.users_from_config(USERS)), db,
                     tiles=tmp_path / "tiles")
    olga = basic("olga", "correct horse 1")
    with TestClient(app) as c:
        assert c.get("/tiles/12/2332/1467.png").status_code == 401
        assert c.get("/api/state", headers=olga).json()["tiles"] == [12]
        tile = c.get("/tiles/12/2332/1467.png", headers=olga)
        assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
        assert tile.content == b"\x89PNG a tile"
        assert c.get("/tiles/12/2332/1468.png", headers=olga).status_code == 204  # not there
        assert c.get("/tiles/12/..%2F..%2Fetc/1.png", headers=olga).status_code == 404
    with TestClient(create_app(hub, auth.Authenticator({}), db)) as c:  # no folder: none
        assert c.get("/api/state").json()["tiles"] == []
        assert c.get("/tiles/12/2332/1467.png").status_code == 204


def test_websocket_needs_a_user(site):
    _, _, client = site
    with client(USERS) as c:
        with pytest.raises(WebSocketDisconnect) as closed:
            with c.websocket_connect("/ws") as ws:
                ws.receive_text()
        assert closed.value.code == 1008  # policy violation: not signed in
        with c.websocket_connect("/ws", headers=basic("vic", "battery staple 2")) as ws:
            assert ws.receive_json()["type"] == "snapshot"


def test_loopback_without_users_is_the_local_operator(site):
    _, _, client = site
    with client([]) as c:
        assert c.get("/api/state").json()["user"] == {"name": "local", "role": "operator"}
        assert c.post("/api/alerts/A1-1/ack").json()["by"] == "local"
        history = c.get("/api/events", params={"kind": "alert_raised"}).json()
        assert [e["alert_id"] for e in history] == ["A1-1"]
        assert c.get("/api/events", params={"node": "one"}).status_code == 400


def test_an_acknowledgement_can_mark_the_alerts_emitter_known(site):
    """`POST /api/alerts/{id}/ack?known=1`: the acknowledgement says so, and a known_added
    event learns the alert's emitter into the store (which a running gateway follows)."""
    _, db, client = site
    with client([]) as c:
        done = c.post("/api/alerts/A1-1/ack", params={"known": "1"}).json()
    assert done["known"] is True
    [known] = store.known_emitters(store.connect(db))
    assert (known.families, known.lo_khz, known.hi_khz, known.dbm, known.source) == (
        ("analog_fm_video",), 5_790_000, 5_810_000, {1: (-61.5, -61.5)}, "alert A1-1")


def test_decimation_keeps_peaks():
    values = np.full(1000, -100.0)
    values[777] = -40.0
    out = decimate_peaks(values, 256)
    assert len(out) <= 256 and out.max() == -40.0 and out.min() == -100.0
    assert len(decimate_peaks(values[:100], 256)) == 100  # fewer than max_bins: as they are


def test_spectra_are_assembled_and_thinned_per_node():
    clock = types.SimpleNamespace(t=0.0)
    hub = Hub(WebConfig(sweep_rate_hz=10.0, max_bins=64), now=lambda: clock.t)
    sent = []
    hub.publish = sent.append
    codes = dbm_to_rssi_code(np.full(200, -100.0))
    codes[150] = dbm_to_rssi_code(-50.0)

    def segment(first, n):
        return Sweep(0, 0, 1, 5_650_000, 2_000, 500, 0, first, 200, bytes(codes[first:first + n]))
    hub.sweep(1, T, segment(0, 100))
    assert sent == []  # half a sweep: nothing yet
    hub.sweep(1, T, Sweep(0, 0, 1, 5_650_000, 2_000, 500, 0, 150, 200, bytes(100)))
    assert sent == []  # a segment past the sweep's end is ignored, not raised
    hub.sweep(1, T, segment(100, 100))
    assert len(sent) == 1 and len(sent[0]["dbm"]) <= 64 and max(sent[0]["dbm"]) == -50.0
    assert sent[0]["stop_khz"] == 5_650_000 + 199 * 2_000
    for step in range(1, 100):  # 100 whole sweeps in 1 s: at most 10 rows (+ the first)
        clock.t = step / 100
        hub.sweep(1, T, segment(0, 200))
    assert 10 <= len(sent) <= 11


def test_tls_serves_https(tmp_path):
    """With tls_cert and tls_key the dashboard speaks HTTPS (a self-signed pair from openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    cfg = from_dict({"gateway": {"db": str(tmp_path / "e.db")},
                     "web": {"tls_cert": str(cert), "tls_key": str(key)}})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = Dashboard(cfg, f"127.0.0.1:{port}").start()
    try:
        assert dashboard.url == f"https://127.0.0.1:{port}/"
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(dashboard.url + "api/state", context=context) as reply:
            assert json.load(reply)["user"]["role"] == "operator"
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # no plain HTTP
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=5)
    finally:
        dashboard.stop()


def test_a_dashboard_with_a_page_open_stops_at_once(tmp_path):
    """A live page's socket does not hold the stop up: its handler, waiting for the hub's next
    message, sees the socket closed by the server (uvicorn's 1012) at once. It waited for the
    join's 5 s before, which with straja hq's other joins outlasted a service manager's wait."""
    cfg = from_dict({"gateway": {"db": str(tmp_path / "e.db")}})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = Dashboard(cfg, f"127.0.0.1:{port}").start()
    with ws_connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}") as page:
        assert json.loads(page.recv(timeout=5))["type"] == "snapshot"
        began = time.monotonic()
        dashboard.stop()
        took = time.monotonic() - began
        with pytest.raises(ConnectionClosed) as closed:
            page.recv(timeout=5)
    assert not dashboard.thread.is_alive() and took < 2, took
    assert closed.value.rcvd.code == 1012  # "service restart": the server going away


def test_gateway_refuses_a_public_address_without_users(tmp_path):
    r = subprocess.run([sys.executable, "-m", "straja.cli", "gateway", "--web", "0.0.0.0:8080",
                        "--no-discover", "--duration", "1", "--db", str(tmp_path / "e.db")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error: refusing to serve the dashboard on 0.0.0.0 without a password" in r.stderr
