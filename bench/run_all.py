"""`make bench`: run every benchmark script in this folder, one after another.

Scripts named bench_firmware_*.py that say `# interpreter: micropython` on their first line run
under the MicroPython unix port; the others under this Python. Each prints its own table; the
figures go into docs/benchmarks.md with the command that produced them.
"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_tools"))
from straja.mp import micropython_command  # noqa: E402

HERE = Path(__file__).parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        first = script.read_text().splitlines()[0]
        cmd = [micropython_command() if "interpreter: micropython" in first else sys.executable,
               str(script)]
        print(f"\n=== {script.name} ({Path(cmd[0]).name}) ===", flush=True)
        if subprocess.run(cmd, cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
