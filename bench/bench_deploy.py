"""Deploy speed: `straja deploy` of the whole firmware to a virtual node, against `mpremote fs cp`
of the same compiled files to a node of the same kind, side by side in one run (docs/benchmarks.md,
"Deploy"). Both are timed as commands a technician runs (process start included) and as library
calls (straja.tools.deploy.Deployer against mpremote's SerialTransport.fs_writefile), on fresh nodes;
then a `straja deploy` where nothing changed. Twice: over the virtual node's instant pty, and with
its USB full-speed link model (1 ms frames, as a board's USB CDC port), where round trips cost
what they cost on a board. Run: .venv/bin/python bench/bench_deploy.py
"""
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_tools"))
from straja.tools import deploy  # noqa: E402
from straja.paths import FIRMWARE  # noqa: E402
from straja.vnode.bridge import UsbLink, VirtualNode  # noqa: E402

REPEATS = 3
LINKS = (("instant pty", None), ("USB full-speed model", UsbLink()))
DEPLOY_CLI = "import sys\nfrom straja import cli\nsys.exit(cli.main(sys.argv[1:]))"
MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


def timed(cmd, **kw) -> float:
    t0 = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    elapsed = time.monotonic() - t0
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {done.stderr[-500:]}")
    return elapsed


def fresh_node(tmp: Path, name: str, link) -> VirtualNode:
    node = VirtualNode(tmp / name, name=name, link=link).start()
    time.sleep(0.3)
    return node


def library_times(tmp: Path, files: dict, i: int, link) -> tuple[float, float]:
    """(straja, mpremote) seconds for a full deploy through each tool's Python API."""
    from mpremote.transport_serial import SerialTransport

    node = fresh_node(tmp, f"ls{i}", link)
    try:
        t0 = time.monotonic()
        result = deploy.Deployer(reset=False).deploy(node.port)
        if result.status != "deployed":
            raise SystemExit(f"deploy failed: {result}")
        ours = time.monotonic() - t0
    finally:
        node.stop()
    node = fresh_node(tmp, f"lm{i}", link)
    try:
        t0 = time.monotonic()
        tr = SerialTransport(node.port, baudrate=115200)
        tr.enter_raw_repl(soft_reset=False)
        for folder in sorted({str(Path(p).parent) for p in files if "/" in p}):
            tr.fs_mkdir(folder)
        for rel, data in files.items():
            tr.fs_writefile(rel, data)
        tr.exit_raw_repl()
        tr.close()
        theirs = time.monotonic() - t0
    finally:
        node.stop()
    return ours, theirs


def measure(tmp: Path, files: dict, local: Path, link) -> dict:
    full, noop, mpremote, lib = [], [], [], []
    tops = sorted({rel.split("/")[0] for rel in files})
    for i in range(REPEATS):
        node = fresh_node(tmp, f"s{i}", link)
        try:
            cmd = [sys.executable, "-c", DEPLOY_CLI, "deploy", node.port, "--no-reset",
                   "--log-dir", str(tmp / "logs")]
            full.append(timed(cmd))
            noop.append(timed(cmd))
        finally:
            node.stop()
        node = fresh_node(tmp, f"m{i}", link)
        try:
            mpremote.append(timed([MPREMOTE, "connect", node.port, "resume", "fs", "cp", "-r",
                                   *tops, ":"], cwd=local))
        finally:
            node.stop()
        lib.append(library_times(tmp, files, i, link))
    out = {k: statistics.median(v) for k, v in
           (("full", full), ("noop", noop), ("mpremote", mpremote))}
    out["lib_full"], out["lib_mpremote"] = (statistics.median(x) for x in zip(*lib))
    return out


def main() -> int:
    files = deploy.build(FIRMWARE, deploy.Compiler(), "x64")
    size = sum(len(d) for d in files.values())
    print(f"firmware: {len(files)} files, {size / 1024:.1f} KiB compiled; median of {REPEATS}")
    with tempfile.TemporaryDirectory(prefix="straja-bench-") as tmp:
        tmp = Path(tmp)
        local = tmp / "compiled"
        for rel, data in files.items():
            (local / rel).parent.mkdir(parents=True, exist_ok=True)
            (local / rel).write_bytes(data)
        for label, link in LINKS:
            flashes = tmp / label.replace(" ", "-")  # fresh nodes for each link
            flashes.mkdir()
            r = measure(flashes, files, local, link)
            f, m, n = r["full"], r["mpremote"], r["noop"]
            lf, lm = r["lib_full"], r["lib_mpremote"]
            print(f"\n-- {label} --")
            print(f"{'straja deploy, full':<36} {f:6.2f} s")
            print(f"{'mpremote fs cp -r, same files':<36} {m:6.2f} s   ({m / f:.1f}x straja's time)")
            print(f"{'straja deploy, nothing changed':<36} {n:6.2f} s")
            print(f"{'library: straja Deployer, full':<36} {lf:6.3f} s")
            print(f"{'library: mpremote fs_writefile':<36} {lm:6.3f} s   ({lm / lf:.1f}x straja's time)")
            print("3x faster than mpremote:", "met" if min(m / f, lm / lf) >= 3 else "NOT met")
            print("unchanged deploy under 1 s:", "met" if n < 1.0 else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
