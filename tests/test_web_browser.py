"""The dashboard in a real browser: Debian's Chromium, driven by selenium, against
`straja demo --web 127.0.0.1:PORT` (virtual nodes, the real gateway, a simulated drone).

Checked: the page loads without console errors, the demo's nodes appear (cards and map), an alert
appears within the demo's time, the waterfall updates (at most sweep_rate_hz rows a second per
node), acknowledging stores an `alert_acknowledged` event. A screenshot of each view is saved in
docs/screenshots/ (the README shows them). Chromium and its driver come from `make system-deps`.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

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
    time.sleep(5)
    after, t1 = browser.execute_script(rows), time.monotonic()
    assert after > before, "the waterfall did not update"
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

    view(browser, "map")
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
