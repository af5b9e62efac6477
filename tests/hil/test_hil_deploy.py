"""`straja deploy` (the real Deployer) to a node: the new version runs after a restart, and a deploy
cut off mid-transfer leaves the node booting its previous version."""
from __future__ import annotations

import hashlib
import shutil

import pytest
from hil_plans import firmware_version, restart

from straja.tools.deploy import Deployer
from straja.paths import FIRMWARE
from straja.vnode.image import IGNORED


def firmware_tree(folder, version: str, ballast: int = 0):
    """This repository's firmware with straja_node.VERSION set to `version`; `ballast` adds a
    module holding that many bytes of data, so a deploy takes several transfers."""
    shutil.copytree(FIRMWARE, folder, ignore=IGNORED)
    init = folder / "straja_node" / "__init__.py"
    init.write_text(init.read_text().replace(f'"{firmware_version()}"', f'"{version}"'))
    if ballast:
        blob = hashlib.sha256(version.encode()).hexdigest() * (ballast // 64 + 1)
        (folder / "straja_node" / "hil_ballast.py").write_text(f"DATA = {blob[:ballast]!r}\n")
    return folder


def deploy(node, tree, **kw):
    with node.released() as port:
        result = Deployer(tree, log=node.note, **kw).deploy(port)
    node.note(f"deploy: {result.status} {result.error or ''}")
    return result


@pytest.fixture
def redeploy_after(node):
    """A board gets this repository's firmware back after the test (a virtual node is thrown away)."""
    yield
    if not node.virtual:
        assert deploy(node, FIRMWARE).status in ("deployed", "up to date")
        node.wait_ready()


def test_deploy_then_restart_into_the_new_version(node, tmp_path, redeploy_after):
    new = firmware_version() + "+hil"
    tree = firmware_tree(tmp_path / "fw", new)
    result = deploy(node, tree)
    assert result.status == "deployed", (result.error, result.fix)
    assert node.wait_ready()["version"] == new  # the deploy soft-resets into it
    info = restart(node)
    assert info["version"] == new
    again = deploy(node, tree)
    assert again.status == "up to date" and again.files_sent == 0


def test_interrupted_deploy_boots_the_previous_version(node, tmp_path, redeploy_after):
    """Cut after the first verified transfer: by the power switch where there is one, else by
    the host giving up (as a pulled cable or a killed laptop would)."""
    old = node.info()["version"]
    tree = firmware_tree(tmp_path / "fw", old + "+cut", ballast=30000)
    staged = []

    def cut(name, detail=None):
        if name == "staged":
            staged.append(detail)
            if len(staged) == 1:
                if node.can_power_cycle:
                    node.power_cycle(off_s=0)
                else:
                    raise ConnectionAbortedError("the host went away mid-transfer")

    result = deploy(node, tree, on_event=cut)
    assert result.status == "failed" and ".deploy/manifest.new" not in staged
    if not node.can_power_cycle:
        node.soft_reset()  # the node was left in its raw REPL
    info = node.wait_ready()
    assert info["version"] == old
    result = deploy(node, tree)
    assert result.status == "deployed", (result.error, result.fix)
    assert node.wait_ready()["version"] == old + "+cut"
