"""Boot, resets and the REPL: the boot banner and reset causes, Ctrl-C to the REPL and back, the raw
REPL, safe mode, brown-outs, and (real boards) the watchdog."""
from __future__ import annotations

import time

import pytest
from hil_plans import firmware_version, restart, start_streaming

from straja import protocol
from straja.rawrepl import RAW_PROMPT

BANNER = r"LOG 20: straja node (\S+) up, boot (\d+), reset cause (\d+)"
POWER_ON, HARD, WATCHDOG, SOFT, BROWN_OUT, UNKNOWN = 0, 1, 2, 3, 5, 255
SAFE_MODE = 2


def test_boot_banner_after_a_soft_reset(node):
    before = node.info()
    node.skip_text()
    node.soft_reset()
    node.expect(r"soft reboot", timeout=10)
    banner = node.expect(BANNER, timeout=15)
    assert banner.group(1) == firmware_version()
    assert int(banner.group(2)) == before["boot_count"] + 1
    if node.virtual:  # a board reports the cause of its last hardware reset
        assert int(banner.group(3)) == SOFT
    after = node.wait_ready()
    assert after["boot_count"] == before["boot_count"] + 1 and after["uptime_s"] <= 2


@pytest.mark.power_switch
def test_power_cycle_is_a_power_on_reset(node):
    before = node.info()
    node.power_cycle()
    info = node.wait_ready()
    assert info["reset_cause"] == POWER_ON
    assert info["boot_count"] == before["boot_count"] + 1
    status = node.frames(1, timeout=10, types=[protocol.STATUS])[0].body
    assert (status.boot_count, status.reset_cause) == (info["boot_count"], POWER_ON)


def test_reboot_command_is_a_hard_reset(node):
    before = node.info()
    assert node.call("reboot") == {"rebooting": True}
    info = node.wait_ready(timeout=5 if node.virtual else 30)
    assert info["boot_count"] == before["boot_count"] + 1
    # machine.reset() is a hard reset on the virtual board; ports name it differently (ESP32:
    # software reset, RP2: watchdog), but never power-on.
    assert info["reset_cause"] == HARD if node.virtual else info["reset_cause"] not in (
        POWER_ON, UNKNOWN)


def test_ctrl_c_to_the_repl_and_back(node):
    start_streaming(node)
    node.frames(20, timeout=20, drain=True)
    node.skip_text()
    t0 = time.monotonic()
    node.interrupt()
    node.expect(r">>> $", timeout=5)
    latency = time.monotonic() - t0
    node.note(f"Ctrl-C to prompt: {latency * 1000:.0f} ms")
    assert latency < 1.0  # the firmware stops within 100 ms; the rest is the REPL's banner
    node.write(b"print(6 * 7)\r")
    node.expect(r"\n42\r?\n>>> $", timeout=5)
    node.write(b"\x04")  # soft reset: the application starts again
    node.expect(BANNER, timeout=15)
    info = node.wait_ready()
    assert info["streaming"] is False and node.call("ping")["pong"] is True


def test_raw_repl_then_the_application_again(node):
    with node.repl() as repl:
        assert repl.eval("1 + 2") == 3
        assert "straja_node" in repl.eval("__import__('os').listdir('/')")
        assert repl.eval("__import__('straja_node').VERSION") == firmware_version()
    assert node.call("ping")["pong"] is True


def test_safe_mode_by_flag_file_and_recovery(node):
    with node.repl(restart=False) as repl:
        repl.exec("open('safemode', 'w').close()")
    node.frames(0, drain=True)
    node.skip_text()
    node.write(b"\x04")  # soft reset at the friendly REPL: boot.py runs and sees the flag
    node.expect(r"straja: SAFE MODE \(flag file 'safemode' present\)", timeout=15)
    node.expect(r"LOG 40: safe mode: flag file", timeout=5)
    status = node.frames(1, timeout=5, types=[protocol.STATUS])[0].body
    assert status.mode == SAFE_MODE
    with pytest.raises(TimeoutError):  # the application did not start
        node.command("ping", timeout=1.0)
    with node.repl() as repl:  # the repair a person makes (docs/firmware.md, Safe mode)
        repl.exec("from straja_node import safemode; safemode.clear()")
    assert node.info()["streaming"] is False
    assert node.frames(1, timeout=10, types=[protocol.STATUS])[0].body.mode != SAFE_MODE


@pytest.mark.power_switch
def test_brown_out_while_streaming_keeps_config_and_resumes(node):
    info = start_streaming(node)
    node.set_config({"stream_on_boot": True})
    config = node.call("get")
    node.frames(50, timeout=20, drain=True)
    node.power_cycle(off_s=0)
    # a glitch keeps the port: frames the node sent just before the cut may still arrive first
    statuses = [f.body for f in node.frames(3, timeout=30, types=[protocol.STATUS])]
    status = next((s for s in statuses if s.boot_count != info["boot_count"]), statuses[-1])
    assert status.boot_count == info["boot_count"] + 1 and status.mode == 1
    assert status.reset_cause in (POWER_ON, HARD, BROWN_OUT)
    assert node.call("get") == config
    assert node.info()["config_hash"] == status.config_hash
    assert node.counters()["lost"] == 0


@pytest.mark.virtual_only
def test_safe_pin_held_low_at_boot(node):
    node.virtual.board.safe_pin_low = True
    node.skip_text()
    node.power_cycle(off_s=0)
    node.expect(r"straja: SAFE MODE \(safe pin held low\)", timeout=15)
    node.virtual.board.safe_pin_low = False
    node.power_cycle(off_s=0)
    assert node.wait_ready()["reset_cause"] == HARD


@pytest.mark.virtual_only
def test_crash_loop_enters_safe_mode(node):
    """A module that raises at import: every boot crashes (a board's watchdog would then reset
    it; here the power is cut), and after crash_limit crashes the node stays in safe mode."""
    app = node.virtual.flash / "straja_node" / "app.py"
    good = app.read_text()
    app.write_text("raise RuntimeError('injected fault')\n")
    limit = node.call("get", "crash_limit")["crash_limit"]
    node.skip_text()
    for _ in range(limit):
        node.power_cycle(off_s=0)
        node.expect(r"RuntimeError: injected fault", timeout=15)
    node.power_cycle(off_s=0)
    node.expect(r"SAFE MODE \(crash loop: %d crashes" % limit, timeout=15)
    app.write_text(good)
    node.power_cycle(off_s=0)  # the crash record was cleared: the app is tried again
    assert node.wait_ready()["boot_count"] >= limit + 2


@pytest.mark.hil
def test_watchdog_resets_a_node_left_without_its_application(node):
    """At the REPL after Ctrl-C a timer feeds the watchdog; a soft reset into the raw REPL ends
    that timer and runs no application, so nobody feeds it (docs/firmware.md, Start-up)."""
    node.set_config({"watchdog_ms": 2000})
    before = restart(node)  # watchdog_ms is read at boot
    with node.repl(restart=False) as repl:
        repl.port.write(b"\x04")
        repl.read_until(RAW_PROMPT, timeout=5)
    time.sleep(3.0)
    info = node.wait_ready(timeout=30)
    assert info["reset_cause"] == WATCHDOG
    assert info["boot_count"] > before["boot_count"]
