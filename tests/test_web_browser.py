"""The dashboard in a real browser: Debian's Chromium, driven by selenium, against
`straja demo --web 127.0.0.1:PORT` (virtual nodes, the real gateway, a simulated drone), and
against `straja hq --web` on a real mosquitto carrying two sites' synthetic messages (the Region
view: positions on the map, live waterfalls, the same after a restart of straja hq).

Checked: the page loads without console errors, the demo's nodes appear (cards and map), an alert
appears within the demo's time, its Remote ID drone and operator are on the map, the waterfall updates (at most sweep_rate_hz rows a second per
node), acknowledging stores an `alert_acknowledged` event. A screenshot of each view is saved in
docs/screenshots/ (the README shows them). Chromium and its driver come from `make system-deps`.
"""
from __future__ import annotations

import json
import math
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from PIL import Image, ImageDraw
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from straja.gateway import events as ev
from test_gateway_mqtt import Broker

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
DEMO_S = 75          # the demo's duration; its drone raises an alert within ~10 s
WEB_RATE_HZ = 10.0   # WebConfig.sweep_rate_hz, the default the demo runs with


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def system_chromium() -> tuple[str, str]:
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        pytest.fail("Chromium and its driver are missing: run `make system-deps` "
                    "(apt-get install chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The URL of a running `straja demo --web`."""
    port = free_port()
    db = tmp_path_factory.mktemp("demo") / "events.db"
    proc = subprocess.Popen([sys.executable, "-m", "straja.cli", "demo", "--duration", str(DEMO_S),
                             "--db", str(db), "--web", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    for line in proc.stdout:
        if "dashboard: " in line:
            url = line.split("dashboard: ", 1)[1].strip().split("\x1b")[0]
            break
    assert url == f"http://127.0.0.1:{port}/", "the demo did not print its dashboard URL"
    yield url
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops its virtual nodes too
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def browser():
    binary, driver_path = system_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def view(driver, name: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f"nav button[data-view={name}]").click()


def screenshot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def console_errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_dashboard_of_the_demo(demo, browser):
    started = time.monotonic()
    browser.get(demo)
    # the page redraws its tables on live messages: an element found may be replaced at once
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: d.find_element(By.ID, "link").text == "live")

    # the demo's three nodes: online on the Nodes view, on the map from the scene's positions
    view(browser, "nodes")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nodes .node .health .online")) == 3)
    assert browser.find_element(By.ID, "map").get_attribute("data-nodes") == "3"

    # the waterfall updates, no faster than the thinning allows
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "canvas.waterfall"))
    rows = "return [...document.querySelectorAll('#node-1 canvas.waterfall')]" \
           ".reduce((n, c) => n + Number(c.dataset.rows), 0)"
    before, t0 = browser.execute_script(rows), time.monotonic()
    time.sleep(5)  # then at least one new row (on a loaded machine the nodes may lag)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(rows) > before,
                                     "the waterfall did not update")
    after, t1 = browser.execute_script(rows), time.monotonic()
    assert (after - before) / (t1 - t0) <= WEB_RATE_HZ * 1.2
    # health arrives with the first node_stats (the demo sends them every 15 s)
    wait.until(lambda d: len([h for h in d.find_elements(By.CSS_SELECTOR, "#nodes .health")
                              if "overruns" in h.text]) == 3)
    screenshot(browser, "nodes")

    # an alert within the demo's time; acknowledging it is stored, with who
    view(browser, "alerts")
    WebDriverWait(browser, DEMO_S - (time.monotonic() - started) - 5).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "tr.alert-row button.ack"))
    alert_id = browser.execute_script(  # one step: the row may be redrawn between two
        "const b = document.querySelector('tr.alert-row button.ack'); b.click();"
        "return b.closest('tr').dataset.alert;")
    wait.until(lambda d: "acknowledged by local" in d.find_element(
        By.CSS_SELECTOR, f"tr[data-alert='{alert_id}'] td.state").text)
    screenshot(browser, "alerts")
    with urllib.request.urlopen(demo + "api/events?kind=alert_acknowledged") as reply:
        acks = json.load(reply)
    assert [(a["alert_id"], a["by"]) for a in acks] == [(alert_id, "local")]

    # the map: the demo's Remote ID drone where it says it is, with its operator
    view(browser, "map")
    wait.until(lambda d: int(d.find_element(By.ID, "map").get_attribute("data-drones") or 0) >= 1)
    time.sleep(0.5)
    screenshot(browser, "map")

    # the history, filtered to raised alerts
    view(browser, "history")
    browser.find_element(By.CSS_SELECTOR, "#filters select option[value=alert_raised]").click()
    browser.find_element(By.CSS_SELECTOR, "#filters button").click()
    kinds = "return [...document.querySelectorAll('#history tr.history-row td:nth-child(3)')]" \
            ".map((td) => td.textContent)"
    wait.until(lambda d: set(d.execute_script(kinds)) == {"alert_raised"})
    screenshot(browser, "history")

    assert console_errors(browser) == []


# -- straja hq: the Region view ------------------------------------------------------------------
T = 1_700_000_000_000_000_000
S = 1_000_000_000
SITES = {"A": (45.0, 25.0), "B": (45.0, 25.06)}  # 4.7 km apart


def site_messages(site: str) -> list[tuple[str, str]]:
    """A site's gateway as it publishes (the event classes' JSON): three surveyed nodes, and
    alerts with the positions the localisation gives (docs/localisation.md)."""
    lat0, lon0 = SITES[site]
    base = f"straja/v1/{site}/gw"
    out, ids = [], iter(range(1, 100))

    def event(e):
        out.append((f"{base}/events/{e.kind}", ev.dumps(e, next(ids))))

    for n, (dlat, dlon) in enumerate([(0.006, -0.008), (-0.005, -0.006), (0.0, 0.01)], start=1):
        event(ev.NodeOnline(T, n, f"/dev/ttyACM{n}"))
        event(ev.NodeStats(T + S, n, True, 1000, 0, 0, 0, 60, 90_000, 0, 0, "1.2.0",
                           latitude=lat0 + dlat, longitude=lon0 + dlon, height_m=8.0))
    nodes = tuple(ev.TrackNode(n, -70.0, T, T + 5 * S) for n in (1, 2, 3))
    video = dict(family="analog_fm_video", lo_khz=5_790_000, hi_khz=5_810_000, first_ns=T + 2 * S,
                 last_ns=T + 5 * S, hits=9, nodes=nodes, severity="high", trend="steady",
                 since_ns=T + 2 * S, label="analog FPV video", text="HIGH video")
    if site == "A":  # a fix of an identified drone; a ring of another heard by one node
        event(ev.AlertRaised(T + 5 * S, "T1", alert_id="A1", **video, position_kind="fix",
                             latitude=lat0 + 0.004, longitude=lon0 + 0.012,
                             ellipse_m=(300.0, 120.0, 60.0), identified=True, uas_id="1596F3ABC",
                             claimed_latitude=lat0 + 0.0045, claimed_longitude=lon0 + 0.0125,
                             operator_latitude=lat0 - 0.002, operator_longitude=lon0 + 0.02))
        event(ev.AlertRaised(T + 5 * S, "T2", alert_id="A2", **{
            **video, "family": "lora_fhss", "lo_khz": 868_000, "hi_khz": 870_000,
            "nodes": nodes[2:]}, position_kind="ring", latitude=lat0, longitude=lon0 + 0.01,
            ring_m=(800.0, 1400.0)))
    else:  # the same video drone, heard by two nodes (a locus); another drone's fix
        event(ev.AlertRaised(T + 6 * S, "T1", alert_id="B1", **{**video, "nodes": nodes[:2]},
                             position_kind="locus", latitude=lat0 + 0.003,
                             longitude=lon0 - 0.005, ring_m=(500.0, 900.0)))
        event(ev.AlertRaised(T + 6 * S, "T5", alert_id="B2", **{
            **video, "lo_khz": 5_900_000, "hi_khz": 5_920_000}, position_kind="fix",
            latitude=lat0 - 0.004, longitude=lon0 + 0.01, ellipse_m=(150.0, 100.0, 0.0)))
    return out


def spectrum(t: int) -> str:
    dbm = [-100.0 + (10.0 if (i + t) % 40 < 3 else 0.0) for i in range(128)]
    return json.dumps({"node_id": 1, "front_end": 0, "t_ns": T + t, "start_khz": 5_645_000,
                       "stop_khz": 5_945_000, "dbm": dbm})


def local_tiles(folder: Path, z: int = 12) -> int:
    """Map tiles {z}/{x}/{y}.png around the sites (plain, outlined), but for one the folder
    lacks; how many."""
    n = 2 ** z

    def tile(lat, lon):
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return int((lon + 180) / 360 * n), int(y)

    (x0, y0), (x1, y1) = tile(45.06, 24.9), tile(44.94, 25.16)
    wanted = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)][1:]
    for x, y in wanted:
        (folder / str(z) / str(x)).mkdir(parents=True, exist_ok=True)
        image = Image.new("RGB", (256, 256), (22, 38, 30))
        ImageDraw.Draw(image).rectangle((0, 0, 255, 255), outline=(40, 70, 55))
        image.save(folder / str(z) / str(x) / f"{y}.png")
    return len(wanted)


class Region:
    """A central mosquitto, both sites' messages on it, thinned spectra from node 1 of each
    site a few times a second, and `straja hq --web --tiles` on it (started again after a stop)."""

    def __init__(self, tmp: Path):
        self.tiles = tmp / "tiles"
        self.tile_count = local_tiles(self.tiles)
        self.broker = Broker(tmp, free_port())
        self.broker.start()
        self.db, self.web = tmp / "hq.db", free_port()
        self.url = f"http://127.0.0.1:{self.web}/"
        self.pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="sites")
        self.pub.connect("127.0.0.1", self.broker.port)
        self.pub.loop_start()
        self.stop_spectra = threading.Event()
        self.spectra = threading.Thread(target=self._spectra, daemon=True)
        self.hq = None

    def start_hq(self) -> None:
        self.hq = subprocess.Popen(
            [sys.executable, "-m", "straja.cli", "hq", "--broker", f"127.0.0.1:{self.broker.port}",
             "--db", str(self.db), "--web", f"127.0.0.1:{self.web}", "--tiles", str(self.tiles),
             *(f"--site-position={s}={la},{lo}" for s, (la, lo) in SITES.items())],
            stderr=subprocess.PIPE, text=True)

    def state(self) -> dict:
        try:
            with urllib.request.urlopen(self.url + "api/state", timeout=2) as r:
                return json.load(r)
        except OSError:
            return {"nodes": []}

    def publish_sites(self) -> None:
        first, *rest = [m for site in SITES for m in site_messages(site)]
        # again until straja hq has subscribed (before, the broker drops it): one event to it
        deadline = time.monotonic() + 20
        while not self.state()["nodes"]:
            assert time.monotonic() < deadline, "straja hq did not subscribe"
            self.pub.publish(*first, qos=1).wait_for_publish(2)
            time.sleep(0.2)
        for topic, payload in rest:
            self.pub.publish(topic, payload, qos=1)
        self.spectra.start()

    def _spectra(self) -> None:
        t = 0
        while not self.stop_spectra.wait(0.25):
            t += 1
            for site in SITES:
                self.pub.publish(f"straja/v1/{site}/gw/spectrum/1", spectrum(t), qos=0)

    def stop_hq(self) -> str:
        self.hq.send_signal(signal.SIGTERM)
        _, err = self.hq.communicate(timeout=15)
        assert self.hq.returncode == 0, err
        return err

    def close(self) -> None:
        self.stop_spectra.set()
        if self.hq.poll() is None:
            self.stop_hq()
        self.pub.loop_stop()
        self.broker.stop()


def region_counts(driver) -> dict:
    """The marks of each kind the Region map drew (and, apart, the local tiles under them)."""
    counts = driver.execute_script("return {...document.getElementById('region-map').dataset}")
    return {k: v for k, v in counts.items() if k != "tiles"}


EXPECTED = {"node": "6", "fix": "2", "ring": "1", "locus": "1", "drone": "1", "operator": "1",
            "track": "3"}  # region tracks: A1 with B1 (one drone), A2, B2


def test_region_view_of_straja_hq(tmp_path, browser):
    region = Region(tmp_path)
    try:
        region.start_hq()
        region.publish_sites()
        browser.get(region.url)
        wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
        wait.until(lambda d: d.find_element(By.ID, "link").text == "live")
        # straja hq's page opens on its Region view
        assert browser.find_element(By.ID, "view-region").is_displayed()
        wait.until(lambda d: region_counts(d) == EXPECTED)
        tiles = "return Number(document.getElementById('region-map').dataset.tiles)"
        wait.until(lambda d: d.execute_script(tiles) > 0)  # where the map is, but the missing one
        assert browser.execute_script(tiles) <= region.tile_count
        # each node's waterfall, from the sites' thinned spectra
        strips = "return [...document.querySelectorAll('#region-strips canvas.strip')]" \
                 ".map((c) => [c.closest('.region-strip').dataset.key, Number(c.dataset.rows)])"
        wait.until(lambda d: len(d.execute_script(strips)) == 2)
        before = dict(browser.execute_script(strips))
        assert set(before) == {"A:gw:1/0", "B:gw:1/0"}
        # (4 spectra a second each: half of a strip's 48 rows for the screenshot)
        wait.until(lambda d: all(rows > before[k] + 24 for k, rows in d.execute_script(strips)))
        screenshot(browser, "region")

        assert console_errors(browser) == []

        # straja hq restarted: the page, reloaded, shows the same from the store at once
        browser.get("about:blank")  # (not the page's reconnection attempts meanwhile)
        assert "'stored': 16" in region.stop_hq()
        region.start_hq()
        wait.until(lambda d: region.state()["nodes"])
        browser.get(region.url)
        wait.until(lambda d: region_counts(d) == EXPECTED)
        view(browser, "alerts")
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.alert-row")
        assert len(rows) == 4 + 3 and "identified: 1596F3ABC" in browser.find_element(
            By.CSS_SELECTOR, "tr[data-alert='A:gw:A1']").text
        assert console_errors(browser) == []
    finally:
        region.close()
