"""bench/overrun_probe.py --floor: the machine's late wake-ups, from a MicroPython loop that only
sleeps as a node's scheduler does (bench/overrun_probe_floor.py, under the real unix port)."""
import importlib.util
import json
import signal
import subprocess
import time

from straja.mp import micropython_command
from straja.paths import REPO

FLOOR = REPO / "bench" / "overrun_probe_floor.py"


def load_probe():
    spec = importlib.util.spec_from_file_location("overrun_probe", REPO / "bench" / "overrun_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floor_loop_counts_each_sleep_once_and_a_stall_as_late():
    """Stopped for 50 ms mid-run (as a CPU the host took away), the loop's next wake-up is over
    3 ms late, and counted there; every sleep lands in one bucket."""
    proc = subprocess.Popen([micropython_command(), str(FLOOR), "1.0", "500"],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(0.4)
    proc.send_signal(signal.SIGSTOP)
    time.sleep(0.05)
    proc.send_signal(signal.SIGCONT)
    out, _ = proc.communicate(timeout=30)
    result = json.loads(out)
    assert result["buckets_us"][-1] == 3000
    assert sum(result["late"]) == result["sleeps"]
    assert result["late"][-1] >= 1  # the stall
    # 1 s of 500 us deadlines at most; fewer, as each late wake-up moves the deadlines on (the
    # stall's 100; on a loaded machine, where most wake-ups are late, over half of them)
    assert 200 < result["sleeps"] <= 2000


def test_the_probes_floor_is_late_wake_ups_a_second_by_how_late():
    floor = load_probe().floor(0.3, 0)
    # deadlines 230 us apart: ~4 300 a second idle; each late wake-up moves the next deadline on,
    # so a loaded machine (most wake-ups ~1 ms late) makes fewer: still hundreds
    assert floor["sleeps_per_s"] > 200
    late = list(floor["late_per_s"].values())
    assert list(floor["late_per_s"]) == ["over 100 us", "over 300 us", "over 500 us",
                                         "over 1000 us", "over 3000 us"]
    assert late == sorted(late, reverse=True)  # each count includes the later ones


def test_the_diagnosis_tools_refuse_bad_arguments_with_a_message():
    """bench/overrun_probe.py and the scene replay tools (band_levels.py, hopper_cycle.py,
    level_envelope.py, subghz_site_rate.py): exit 2 with the reason, no traceback, before any node or scene runs."""
    import sys
    scene = str(REPO / "scenes" / "demo_incursion.toml")
    for args in (["overrun_probe.py", "--floor", "-1"], ["overrun_probe.py", "--nodes", "0"],
                 ["band_levels.py", "/nonexistent.toml"],
                 ["band_levels.py", scene, "--without", "nobody"],
                 ["hopper_cycle.py", "/nonexistent.toml"],
                 ["hopper_cycle.py", scene, "--windows", "2,0"],
                 ["hopper_cycle.py", scene, "--null", "uniform"],
                 ["hopper_cycle.py", scene, "--threshold", "nan"],
                 ["level_envelope.py", "/nonexistent.toml"],
                 ["level_envelope.py", scene, "--until", "-1"],
                 ["subghz_site_rate.py", "/nonexistent.toml", "--band-mhz", "902", "928"],
                 ["subghz_site_rate.py", scene, "--band-mhz", "928", "902"],
                 ["subghz_site_rate.py", scene, "--band-mhz", "902", "928", "--rate", "0"]):
        done = subprocess.run([sys.executable, str(REPO / "bench" / args[0]), *args[1:]],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "error:" in done.stderr, args
        assert "Traceback" not in done.stderr, args
