"""bench/run_all.py: a script's error or hang fails the run (CI), whatever it prints."""
import importlib.util
import sys

from straja.paths import REPO

spec = importlib.util.spec_from_file_location("run_all", REPO / "bench" / "run_all.py")
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)


def test_a_script_that_does_not_end_in_its_time_is_stopped_and_failed(capsys):
    assert not run_all.ran([sys.executable, "-c", "import time; time.sleep(60)"], 1.0)
    assert "no end after 1 s (a hang?): stopped" in capsys.readouterr().out


def test_a_scripts_exit_status_decides():
    assert run_all.ran([sys.executable, "-c", "pass"], 30.0)
    assert not run_all.ran([sys.executable, "-c", "raise SystemExit(3)"], 30.0)
    assert run_all.ran([sys.executable, "-c", "pass"], None)
