"""Compile every Cython kernel in src_cython/ into the straja package, and put the project's
data folders into a wheel.

`src_cython/_name.pyx` becomes the extension module `straja._name`. A (non-editable) build copies
firmware/, hardware/, scenes/ and the Cython sources into straja/_data/, where straja.paths finds
them once installed. The rest of the package metadata lives in pyproject.toml. First, the wire
protocol's constants are written from their one definition (firmware/straja_node/wire.py) into
src_cython/_wire.pxi for the decoder.
"""
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "host_tools"))
from straja.paths import DATA_FOLDERS  # noqa: E402 - the one list of what a wheel carries


class BuildPyWithData(build_py):
    """build_py, plus the data folders in straja/_data/ (not for an editable install, which
    reads them from the checkout)."""

    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "straja" / "_data"
        shutil.rmtree(target, ignore_errors=True)
        for folder in DATA_FOLDERS:
            shutil.copytree(HERE / folder, target / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.c", "*.so"))

WIRE = HERE / "firmware" / "straja_node" / "wire.py"
WIRE_PXI = HERE / "src_cython" / "_wire.pxi"


def write_wire_pxi():
    """_wire.pxi: every integer constant of wire.py as a C enum, and `WIRE`, a dict of the same
    values, by which tests/test_protocol_wire.py sees what the compiled module was built with.
    Written only when it changes, so that an unchanged wire.py does not trigger a recompile."""
    spec = importlib.util.spec_from_file_location("wire", WIRE)
    wire = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wire)
    names = [k for k, v in vars(wire).items() if k.isupper() and type(v) is int]
    text = "\n".join(
        ["# Written by setup.py from firmware/straja_node/wire.py: do not edit.", "cdef enum:"]
        + [f"    {k} = {getattr(wire, k)}" for k in names]
        + ["", "WIRE = {"] + [f'    "{k}": {k},' for k in names] + ["}", ""])
    if not WIRE_PXI.exists() or WIRE_PXI.read_text() != text:
        WIRE_PXI.write_text(text)


write_wire_pxi()

extensions = [
    Extension(
        f"straja.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # the C headers the kernels include: an edited header rebuilds them (setuptools compares
        # only the .c otherwise, and kept a stale kernel)
        depends=[str(h.relative_to(HERE)) for h in sorted((HERE / "src_cython").glob("*.h"))],
        # hot loops on 32-byte boundaries: at GCC's default the code CA kernel's speed at 64 bins
        # moved by a quarter with unrelated changes elsewhere in its module (docs/benchmarks.md).
        # Portable flags only (gcc on x86-64 and on the gateway's aarch64 Pi alike: no
        # -march=native); the AVX2 loops are chosen at run time (src_cython/_code_ca.h).
        extra_compile_args=["-O3", "-falign-loops=32"],
    )
    for pyx in sorted((HERE / "src_cython").glob("*.pyx"))
]

setup(
    cmdclass={"build_py": BuildPyWithData},
    ext_modules=cythonize(
        extensions,
        # src_cython/straja/*.pxd: the kernels other kernels cimport, by their qualified names
        include_path=[str(HERE / "src_cython")],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)
