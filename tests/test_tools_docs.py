"""Every `straja` command line in README.md and docs/*.md is one the command accepts, and the ones
that can run here run: against a virtual node (the real firmware) where they need a node, with
--help where they need hardware, a broker or a person. So the docs cannot rot unnoticed."""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from straja import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
STRAJA = str(Path(sys.executable).with_name("straja"))

# Spans that begin with "straja " but are no command line: the firmware's boot line.
NOT_COMMANDS = {"straja node VERSION up, boot N, reset cause C"}


def _variants(line: str) -> list[str]:
    """`straja info / config / reset / repl PORT` is four commands; `straja sim node / check /
    truth` three."""
    parts = line.split(" / ")
    if len(parts) == 1:
        return [line]
    head = parts[0].rsplit(" ", 1)[0]
    last_word, _, tail = parts[-1].partition(" ")
    words = [parts[0].rsplit(" ", 1)[1], *(p.split(" ")[0] for p in parts[1:])]
    return [" ".join(filter(None, (head, word, tail))) for word in words]


def _clean(line: str) -> str:
    """Optional parts become present (`[--json]` -> `--json`), repetition marks go."""
    line = line.split(" #", 1)[0].strip()
    line = line.replace("[", "").replace("]", "")
    return " ".join(w for w in line.replace("...", " ").split())


def _joined_lines(text: str) -> list[str]:
    """The document's lines, a shell continuation (a line ending in a backslash) joined to the
    next one."""
    return re.sub(r"\\\n\s*", " ", text).splitlines()


def doc_commands() -> list[tuple[str, str]]:
    """(document name, command line) for every `straja` command the docs show: lines of code
    blocks (fenced or indented) and inline code spans."""
    found = []
    for doc in DOCS:
        fenced = False
        previous_blank = True
        in_indented = False
        for raw in _joined_lines(doc.read_text()):
            if raw.lstrip().startswith("```"):
                fenced = not fenced
                continue
            in_indented = raw.startswith("    ") and (previous_blank or in_indented) and not fenced
            previous_blank = not raw.strip()
            code = raw.strip().removeprefix("$ ")
            if (fenced or in_indented) and code.startswith("straja "):
                found += [(doc.name, c.strip()) for c in re.split(r" ; | \| ", code)
                          if c.strip().startswith("straja ")]
            elif not fenced and not in_indented:
                found += [(doc.name, span) for span in re.findall(r"`(straja [^`]*)`", raw)]
    out = []
    for name, line in found:
        if line in NOT_COMMANDS:
            continue
        for variant in _variants(line.split(" | ")[0]):
            out.append((name, _clean(variant)))
    return sorted(set(out))


PARSER = cli.build_parser({name for name, _, _ in cli.COMMANDS})


def _subparsers(parser):
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def resolve(words: list[str]):
    """(the parser of the command `words` name, its name's words, the words after them)."""
    parser, path = PARSER, []
    while words and (sub := _subparsers(parser)) and words[0] in sub.choices:
        parser, words = sub.choices[words[0]], words[1:]
        path.append(parser.prog.rsplit(" ", 1)[1])
    return parser, tuple(path), words


COMMANDS = doc_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 60
    assert ("README.md", "straja doctor") in COMMANDS
    assert ("field-guide.md", "straja info PORT") in COMMANDS
    assert ("field-guide.md", "straja config PORT get KEY") in COMMANDS


@pytest.mark.parametrize("doc,line", COMMANDS, ids=[f"{d}:{c}" for d, c in COMMANDS])
def test_every_documented_command_line_is_accepted(doc, line):
    """Its command exists, every option it writes is one of that command's, and an option with
    a fixed set of values gets one of them (placeholders in capitals stand for any value)."""
    words = shlex.split(line)[1:]
    parser, _, rest = resolve(words)
    if _subparsers(parser) and rest and not rest[0].startswith("-"):  # resolve() took the known
        raise AssertionError(f"{doc}: no command {rest[0]!r} in {parser.prog}: {line}")
    options = {s: a for a in parser._actions for s in a.option_strings}
    for i, word in enumerate(rest):
        if not word.startswith("--"):
            continue
        name = word.split("=", 1)[0]
        assert name in options, f"{doc}: {line}: {parser.prog} has no option {name}"
        action = options[name]
        value = word.split("=", 1)[1] if "=" in word else (rest[i + 1] if i + 1 < len(rest)
                                                            else None)
        if action.choices and value and not value.isupper():
            assert value in action.choices, f"{doc}: {line}: {value!r} is no {name} choice"


HELP_ONLY = sorted({resolve(shlex.split(line)[1:])[1] for _, line in COMMANDS})


@pytest.mark.parametrize("path", HELP_ONLY, ids=" ".join)
def test_every_documented_command_has_help(path):
    done = subprocess.run([STRAJA, *path, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "usage: straja" in done.stdout, done.stderr


# The documented command lines that run here as written, with PORT (or the field guide's
# /dev/ttyACM0) a virtual node's port; monitor, which runs until Ctrl-C, for two seconds.
REMOTE_ID = "1e16faff0d07122624160a42bf241b6ed1b4b69808ac0870086b53150e0200"  # remoteid.md's
RUNNABLE = {"straja info PORT", "straja config PORT get KEY", "straja reset PORT",
            "straja monitor PORT", "straja ports", "straja ports --probe", "straja doctor",
            "straja --help", f"straja remoteid decode {REMOTE_ID}",
            "straja remoteid decode --json HEX", "straja sim check FILE",
            "straja web-password NAME --role operator"}
# What some of them must print (the virtual node is node 7).
SHOWS = {"straja info PORT": "node id  7", "straja ports --probe": "Straja ",
         "straja config PORT get KEY": "7", "straja web-password NAME --role operator":
         'role = "operator"', "straja remoteid decode --json HEX": '"'}
SUBSTITUTE = {"KEY": "node_id", "FILE": "demo_incursion", "HEX": REMOTE_ID, "NAME": "olga"}


def test_the_runnable_ones_are_in_the_docs():
    assert RUNNABLE <= {line for _, line in COMMANDS}


@pytest.mark.parametrize("line", sorted(RUNNABLE))
def test_documented_commands_run_against_a_virtual_node(module_node, line):
    argv = [module_node.port if w == "PORT" else SUBSTITUTE.get(w, w) for w in shlex.split(line)[1:]]
    if argv[0] == "monitor":
        argv += ["--duration", "2"]
    env = dict(os.environ, STRAJA_EXTRA_PORTS=module_node.port)  # ports --probe lists it
    # web-password asks for the password twice
    done = subprocess.run([STRAJA, *argv], capture_output=True, text=True, timeout=120,
                          input="correct horse battery\n" * 2, env=env)
    assert "Traceback" not in done.stderr
    # doctor may find this machine lacking something (exit 1), and says what
    assert done.returncode == 0 or (argv == ["doctor"] and done.returncode == 1), done.stderr
    assert SHOWS.get(line, "") in done.stdout, done.stdout
    if argv[0] == "reset":
        time.sleep(1.0)  # the firmware starts again


@pytest.mark.parametrize("line", ["straja monitr PORT", "straja monitor PORT --recrd FILE",
                                  "straja events --kind bogus", "straja sim bogus"])
def test_a_rotten_command_line_is_caught(line):
    with pytest.raises(AssertionError):
        test_every_documented_command_line_is_accepted("x.md", line)


# The commands that talk to a node through its application or its REPL, with what they print
# of it: each port-taking command resolves the name the same way (straja.tools.ports.resolve).
BY_NODE_ID = {"info": ["info", "node:7"], "monitor": ["monitor", "node:7", "--duration", "2"],
              "config": ["config", "node:7", "get", "node_id"], "reset": ["reset", "node:7"]}


@pytest.mark.parametrize("command", sorted(BY_NODE_ID))
def test_node_id_works_where_a_port_is_asked_for(module_node, command):
    """The field guide: "Anywhere a PORT is asked for you may write ... node:ID" (a virtual node
    is a candidate when named in STRAJA_EXTRA_PORTS)."""
    guide = (ROOT / "docs/field-guide.md").read_text()
    assert "Anywhere a PORT is asked for you may write" in guide
    env = dict(os.environ, STRAJA_EXTRA_PORTS=module_node.port)
    done = subprocess.run([STRAJA, *BY_NODE_ID[command]], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert ("node_id = 7" if command == "config" else module_node.port) in done.stdout
    time.sleep(1.0)  # the firmware starts again after the probe's soft reset


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces `-`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _broken_anchors(pages: dict[Path, str]) -> list[str]:
    """Links `[...](#a)` or `[...](page.md#a)` among `pages` whose page has no heading `a`."""
    headings = {path: {_anchor(h) for h in re.findall(r"^#+ (.*)$", re.sub(r"```.*?```", "", text,
                                                                             flags=re.S), re.M)}
                for path, text in pages.items()}
    broken = []
    for path, text in pages.items():
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            page = (path.parent / target).resolve() if target else path
            if page in headings and anchor not in headings[page]:
                broken.append(f"{path.name}: {target}#{anchor}")
    return broken


def test_every_link_to_a_heading_names_one():
    """An in-page link ("The rules as they stand" in docs/detection.md has 29) breaks silently
    when its heading is reworded."""
    assert _broken_anchors({p.resolve(): p.read_text() for p in DOCS}) == []
    page = ROOT / "docs" / "x.md"
    assert _broken_anchors({page: "# A title, here\n[ok](#a-title-here) [rotten](#a-title)\n"}) \
        == ["x.md: #a-title"]


def _broken_links(pages: dict[Path, str]) -> list[str]:
    """Relative links `[...](path)` or `[...](path#a)` among `pages` to a file or folder that is
    not there (code spans and blocks left out: they show links, they are none)."""
    broken = []
    for path, text in pages.items():
        text = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))
        for target in re.findall(r"\]\(([^)#\s]+)[^)\s]*\)", text):
            if not re.match(r"[a-z]+:", target) and not (path.parent / target).exists():
                broken.append(f"{path.name}: {target}")
    return broken


def test_every_relative_link_in_the_docs_resolves():
    """A page moved (the detector's history went to docs/measured/) leaves its links behind."""
    assert _broken_links({p: p.read_text() for p in DOCS}) == []
    page = ROOT / "docs" / "x.md"
    assert _broken_links({page: "[ok](gateway.md#a) [web](https://x.org/y) `[code](no.md)` "
                                "[rotten](measured/no.md)\n"}) == ["x.md: measured/no.md"]


def _missing_measured(texts: dict[str, str]) -> list[str]:
    """The pages of docs/measured/ that `texts` (file name -> text) name but are not there."""
    return [f"{name}: {page}" for name, text in texts.items()
            for page in re.findall(r"docs/measured/([\w-]+)\.md", text)
            if not (ROOT / "docs" / "measured" / f"{page}.md").is_file()]


def test_every_named_measured_page_is_there():
    """Code, scenes and docs name the page of docs/measured/ that measured what they say."""
    texts = {str(p.relative_to(ROOT)): p.read_text()
             for folder in ("host_tools", "src_cython", "bench", "tests", "scenes", "firmware", "docs")
             for p in sorted((ROOT / folder).rglob("*")) if p.suffix in {".py", ".pyx", ".toml", ".md"}}
    assert "docs/measured/det36.md" in texts["host_tools/straja/gateway/detector.py"]
    assert _missing_measured(texts) == []
    rotten = "docs/measured/" + "det99.md"  # split, or this file would name it
    assert _missing_measured({"x.py": f"# (docs/measured/det36.md, {rotten})"}) == ["x.py: det99"]
