"""Compile every Cython kernel in src_cython/ into the straja package, and put the project's
data folders into a wheel.

`src_cython/_name.pyx` becomes the extension module `straja._name`. A (non-editable) build copies
firmware/, hardware/, scenes/ and the Cython sources into straja/_data/, where straja.paths finds
them once installed. The rest of the package metadata lives in pyproject.toml.
"""
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

extensions = [
    Extension(
        f"straja.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for pyx in sorted((HERE / "src_cython").glob("*.pyx"))
]

setup(
    cmdclass={"build_py": BuildPyWithData},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)
