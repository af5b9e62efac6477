"""The gateway's side of the topic layout straja hq reads (docs/hq.md): `straja gateway --site`
names the site level, which `straja hq bridge-config --site` bridges; thinned spectra on
`spectrum/<node id>` reach the region's dashboard live, bounded in rate, and are not stored."""
from __future__ import annotations

import time

import numpy as np
import pytest

from straja import cli
from straja.gateway import config, mqtt, store
from straja.hq.service import Hq, Subscriber
from straja.protocol import Sweep, dbm_to_rssi_code
from test_gateway_mqtt import Broker, free_port, wait_for
from test_gateway_mqtt import Subscriber as Listener

T = 1_700_000_000_000_000_000


@pytest.mark.timeout(60)
def test_gateway_site_option_names_the_topics_the_bridge_forwards(tmp_path, capsys):
    broker = Broker(tmp_path, free_port())
    broker.start()
    listener = Listener(broker.port, "straja/v1/#")
    conf = tmp_path / "gw.toml"
    conf.write_text(f'[gateway]\ngateway_id = "gw7"\n[mqtt]\nhost = "127.0.0.1"\n'
                    f'port = {broker.port}\nsite = "from-config"\n')
    try:
        assert cli.main(["gateway", "--config", str(conf), "--site", "north-1", "--no-discover",
                         "--port", str(tmp_path / "node*"), "--db", str(tmp_path / "gw.db"),
                         "--duration", "1"]) == 0
        assert wait_for(lambda: ("straja/v1/north-1/gw7/status", b"offline", False)
                        in listener.got, 5), listener.got
    finally:
        listener.client.loop_stop()
        broker.stop()
    assert {t for t, _, _ in listener.got} == {"straja/v1/north-1/gw7/status"}
    assert cli.main(["hq", "bridge-config", "--site", "north-1", "--central", "h:1883"]) == 0
    assert "topic straja/v1/north-1/# out 1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        cli.main(["gateway", "--site", "a/b", "--duration", "1"])
    assert refused.value.code == 2 and "cannot be an MQTT topic level" in capsys.readouterr().err


def test_a_bad_spectrum_setting_is_a_config_error():
    with pytest.raises(config.ConfigError, match="spectrum_bins"):
        config.from_dict({"mqtt": {"spectrum_bins": 0}})


def sweep(front_end: int, codes: np.ndarray) -> Sweep:
    return Sweep(front_end, 0, 1, 5_650_000 + front_end * 100_000, 2_000, 500, 0, 0, len(codes),
                 bytes(codes))


@pytest.mark.timeout(60)
def test_thinned_spectra_reach_the_region_dashboard_live_and_bounded(tmp_path):
    broker = Broker(tmp_path, free_port())
    broker.start()
    cfg = config.MqttConfig(host="127.0.0.1", port=broker.port, site="A", spectrum_rate_hz=4.0,
                            spectrum_bins=64)
    store.Store(tmp_path / "gw.db", topics=mqtt.topics_for(cfg, "gw1")).close()
    publisher = mqtt.Publisher(cfg, "gw1", tmp_path / "gw.db").start()
    hq = Hq(tmp_path / "hq.db")
    shown = []
    hq.hub = type("Hub", (), {"publish": staticmethod(shown.append)})()  # what the browsers get
    sub = Subscriber(hq, "127.0.0.1", broker.port, client_id="hq-spectra").start()
    codes = dbm_to_rssi_code(np.full(500, -100.0))
    codes[321] = dbm_to_rssi_code(-40.0)  # a narrow link: kept by the thinning
    try:
        assert wait_for(lambda: publisher.connected.is_set() and sub.connected.is_set(), 10)
        fed = 0
        began = time.monotonic()
        while fed < 100:  # 2 front ends, 50 whole sweeps each a second, for 2 s
            publisher.sweep(1, T, sweep(fed % 2, codes))
            fed += 1
            time.sleep(0.02)
        fed_s = time.monotonic() - began  # (longer than 2 s on a loaded machine)
        assert wait_for(lambda: len(shown) >= 4, 5)
    finally:
        sub.stop()
        publisher.stop(flush_s=0.5)
        broker.stop()
    assert {(m["type"], m["node_id"]) for m in shown} == {("spectrum", "A:gw1:1")}
    assert {m["front_end"] for m in shown} == {0, 1}
    assert len(shown) <= 4.0 * fed_s + 2  # 4 a second per node, while it was fed
    assert all(len(m["dbm"]) <= 64 and max(m["dbm"]) == -40.0 for m in shown)
    assert shown[0]["stop_khz"] - shown[0]["start_khz"] == 499 * 2_000
    assert hq.counts["spectra"] == len(shown) and hq.store.query() == []
