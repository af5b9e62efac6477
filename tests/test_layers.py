"""The host package's layers (docs/architecture.md), read from every module's imports with ast.

    base (errors, term, rf, paths, mp, signals, protocol, framing, the compiled core, straja_node)
      <- transport (link, rawrepl, serial_port) <- tools <- commands
      <- detect, remoteid <- gateway
    sim, vboard, vnode, eval, hil, testing, web, hq sit above: detect, gateway, tools and below never
    import them. No import cycles between modules.

Imports inside functions count too; the command table's modules (imported by name in straja.cli)
are commands.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import straja

PACKAGE = Path(straja.__file__).resolve().parent

BASE = ("straja", "straja.errors", "straja.term", "straja.rf", "straja.frontends", "straja.paths",
        "straja.mp", "straja.argtypes", "straja.boards", "straja.signals", "straja.protocol",
        "straja.framing", "straja_node")
TRANSPORT = ("straja.link", "straja.rawrepl", "straja.serial_port")
ABOVE = ("sim", "vboard", "vnode", "eval", "hil", "testing", "web", "hq")
COMMAND_MODULES = ("straja.__main__", "straja.cli", "straja.commands", "straja.gateway.cli",
                   "straja.vnode.cli", "straja.eval.cli", "straja.remoteid.cli", "straja.web.cli")
# Layer -> the layers its modules may import (besides their own).
MAY_IMPORT = {
    "base": set(),
    "transport": {"base"},
    "tools": {"base", "transport"},
    "detect": {"base"},
    "remoteid": {"base"},
    "locate": {"base"},
    "gateway": {"base", "transport", "tools", "detect", "remoteid", "locate"},
    **{name: {"base", "transport", "tools", "detect", "remoteid", "locate", "gateway", *ABOVE}
       for name in ABOVE},
    "commands": {"base", "transport", "tools", "detect", "remoteid", "locate", "gateway", *ABOVE},
}


def _within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> str:
    """The layer of a module (straja.x.y, straja._compiled or straja_node.z); KeyError if none."""
    if _within(module, COMMAND_MODULES):
        return "commands"
    if _within(module, BASE[1:]) or module == "straja" or module.startswith("straja._"):
        return "base"
    if _within(module, TRANSPORT):
        return "transport"
    if module == "straja.cot":  # Cursor on Target: an output of the gateway, as mqtt is
        return "gateway"
    for name in ("tools", "detect", "remoteid", "locate", "gateway", *ABOVE):
        if _within(module, ("straja." + name,)):
            return name
    raise KeyError(f"{module} is in no layer: add it to tests/test_layers.py and "
                   "docs/architecture.md")


def package_modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every Python module of the package: dotted name -> file."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = ("straja", *path.relative_to(root).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The straja and straja_node modules that module `name` imports, anywhere in its source."""
    found = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if _within(m, ("straja", "straja_node"))}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    return {name: imports_of(name, path.read_text(), path.name == "__init__.py", known) - {name}
            for name, path in modules.items()}


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes against MAY_IMPORT, as 'importer -> imported (layer -> layer)'."""
    bad = []
    for importer, imported in sorted(graph.items()):
        mine = layer_of(importer)
        for target in sorted(imported):
            theirs = layer_of(target)
            if theirs != mine and theirs not in MAY_IMPORT[mine]:
                bad.append(f"{importer} -> {target} ({mine} -> {theirs})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph(package_modules())


def test_every_module_has_a_layer(graph):
    for module in graph:
        layer_of(module)


def test_no_import_goes_against_the_layers(graph):
    assert violations(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_command_table_names_command_modules():
    from straja import cli

    for _, _, target in cli.COMMANDS:
        assert layer_of(target.partition(":")[0]) == "commands", target


def test_the_checker_finds_a_forbidden_import_and_a_cycle(tmp_path):
    """A synthetic package: detect imports the simulator, tools import commands, and link and
    rawrepl import each other."""
    files = {
        "__init__.py": "",
        "protocol.py": "import struct\n",
        "link.py": "from . import protocol, rawrepl\n",
        "rawrepl.py": "from .link import NodeLink\n",
        "detect/__init__.py": "",
        "detect/classify.py": "from straja.sim.emitters import ANALOG_BANDS\nfrom .. import rf\n",
        "sim/__init__.py": "", "sim/emitters.py": "ANALOG_BANDS = {}\n",
        "tools/__init__.py": "",
        "tools/deploy.py": "def run():\n    from ..commands import deploy\n",
        "commands/__init__.py": "", "commands/deploy.py": "from ..tools import deploy\n",
        "rf.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    synthetic = import_graph(package_modules(tmp_path))
    assert synthetic["straja.tools.deploy"] == {"straja.commands.deploy"}  # found in a function
    assert violations(synthetic) == [
        "straja.detect.classify -> straja.sim.emitters (detect -> sim)",
        "straja.tools.deploy -> straja.commands.deploy (tools -> commands)",
    ]
    assert sorted(cycles(synthetic)) == [["straja.commands.deploy", "straja.tools.deploy"],
                                         ["straja.link", "straja.rawrepl"]]
    with pytest.raises(KeyError, match="straja.newthing is in no layer"):
        violations({"straja.newthing": set()})
