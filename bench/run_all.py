"""`make bench`: run every benchmark script in this folder, one after another.

Scripts named bench_firmware_*.py that say `# interpreter: micropython` on their first line run
under the MicroPython unix port; the others under this Python. pi_check.py (the Raspberry Pi's
table) runs last, this machine's figures scaled as docs/benchmarks.md states (FULL_ARGS). Each
prints its own table; the figures go into docs/benchmarks.md with the command that made them.

`--quick` (CI, under 3 minutes): every script on a small input (QUICK_ARGS), so that none can rot;
it fails on a script's error (exit status not 0) or hang (QUICK_TIMEOUT_S), never on a figure.
Each script's wall and CPU seconds follow its output (CPU: what a loaded machine's wall hides).
"""
import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_tools"))
from straja.mp import micropython_command  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import yardstick  # noqa: E402

HERE = Path(__file__).parent
QUICK_ARGS = {
    "bench_cfar.py": ["--quick"],
    "bench_deploy.py": ["--repeats", "1"],
    "bench_detect.py": ["--quick"],
    "bench_firmware_frame.py": ["--quick"],
    "bench_firmware_sweep.py": ["--quick"],
    "bench_framing.py": ["--mb", "0.25", "--budget", "1"],
    "bench_gateway.py": ["--nodes", "16", "64", "--seconds", "3", "--budget", "2",
                         "--latency-passes", "1", "--scene-nodes", "2", "--scene-seconds", "4"],
    "bench_gateway_cold.py": ["--nodes", "2", "--seconds", "3", "--passes", "1"],
    "bench_gateway_live.py": ["--seconds", "8", "--nodes", "4"],
    "bench_hq.py": ["--quick"],
    "pi_check.py": ["--nodes", "4", "--seconds", "5", "--live-seconds", "5", "--live-nodes", "2",
                    "--scene-nodes", "1", "--scene-seconds", "4"],
    "bench_gateway_readers.py": ["--nodes", "4", "--seconds", "1", "--passes", "1"],
}
# A quick script that has not ended by then is stopped and counted as failed: CI reports a hang
# instead of waiting for the job's own limit (each takes well under a minute on an idle machine).
QUICK_TIMEOUT_S = 600
FULL_ARGS = {"pi_check.py": ["--nodes", "16", "--seconds", "10", "--scale", "pi4",
                             "--live-seconds", "30"]}


def children_cpu_s() -> float:
    """CPU seconds of the ended scripts and their processes (a script's wall time on a loaded
    machine says little: its CPU does)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ran(cmd: list[str], timeout_s: float | None) -> bool:
    """Whether cmd ended with exit status 0 within timeout_s (None: no limit); one stopped
    for its time says so."""
    try:
        return subprocess.run(cmd, cwd=HERE.parent, timeout=timeout_s).returncode == 0
    except subprocess.TimeoutExpired:
        print(f"{Path(cmd[1]).name}: no end after {timeout_s:.0f} s (a hang?): stopped", flush=True)
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small inputs: a check that every "
                    "benchmark runs (CI), not figures")
    args = ap.parse_args()
    failed, begun = [], time.monotonic()
    print(yardstick.line(yardstick.nbody_us()), flush=True)  # the machine's speed this run
    for script in [*sorted(HERE.glob("bench_*.py")), HERE / "pi_check.py"]:
        first = script.read_text().splitlines()[0]
        cmd = [micropython_command() if "interpreter: micropython" in first else sys.executable,
               str(script), *(QUICK_ARGS if args.quick else FULL_ARGS).get(script.name, [])]
        print(f"\n=== {script.name} ({Path(cmd[0]).name}) ===", flush=True)
        start, cpu = time.monotonic(), children_cpu_s()
        if not ran(cmd, QUICK_TIMEOUT_S if args.quick else None):
            failed.append(script.name)
        print(f"({script.name}: {time.monotonic() - start:.0f} s wall, "
              f"{children_cpu_s() - cpu:.0f} s CPU)", flush=True)
    print(f"\n(all: {time.monotonic() - begun:.0f} s wall, {children_cpu_s():.0f} s CPU; load "
          f"average {os.getloadavg()[0]:.1f})")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
