"""bench/hopper_looks.py: a scene's band hopper inputs, recorded through the evaluation's fast
path, replay into the compiled stage with the reference's results (the digest it prints)."""
import importlib.util

import pytest

from straja.detect import hoppers as hp
from straja.paths import REPO

spec = importlib.util.spec_from_file_location("hopper_looks", REPO / "bench" / "hopper_looks.py")
hopper_looks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hopper_looks)


def test_a_busy_bands_looks_replay_into_the_compiled_stage_as_into_the_reference():
    stages = hopper_looks.record("bluetooth_dense_background", 12.0)
    assert stages and all(len(rec.calls) > 40 for rec in stages)
    _, compiled = hopper_looks.replay(stages)
    _, reference = hopper_looks.replay(stages, hp.ReferenceBandHoppers)
    assert compiled == reference
    assert hopper_looks.replay(stages)[1] == compiled  # a fresh stage each replay



def test_a_scene_that_does_not_load_is_a_message_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["hopper_looks.py", "no_such_scene"])
    with pytest.raises(SystemExit) as stop:
        hopper_looks.main()
    assert stop.value.code == 2 and "no_such_scene" in capsys.readouterr().err
