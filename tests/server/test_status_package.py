"""``pip install .`` ships the status page: its templates and static files are package data
(``[tool.setuptools.package-data]``), found from an installed layout, not only from a checkout.

setuptools' own ``build_py`` (what a wheel build runs) lays the package out in a temporary
directory from a copy of the project; a fresh interpreter with only that directory in front of
its path loads every template and finds the static files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATUS = Path("leyden") / "server" / "status"


def test_the_templates_and_static_files_are_installed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src",
        project / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    lib = tmp_path / "lib"
    setup = "from setuptools import setup; setup()"
    built = subprocess.run(
        [sys.executable, "-c", setup, "-q", "build_py", "--build-lib", str(lib)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    shipped = {
        p.relative_to(ROOT / "src")
        for folder in ("templates", "static")
        for p in (ROOT / "src" / STATUS / folder).iterdir()
    }
    assert shipped, "no template or static file found in the checkout"
    missing = sorted(str(p) for p in shipped if not (lib / p).is_file())
    assert missing == [], "not package data (pyproject.toml [tool.setuptools.package-data])"
    check = (
        "import leyden, pathlib, sys\n"
        "from leyden.server import status\n"
        f"assert pathlib.Path(leyden.__file__).is_relative_to({str(lib)!r}), leyden.__file__\n"
        "env = status.templates()\n"
        "names = sorted(env.list_templates())\n"
        "for name in names:\n"
        "    env.get_template(name)\n"
        "assert (status.HERE / 'static' / 'status.js').is_file()\n"
        "print(' '.join(names))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        env={"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["body.html", "discord.html", "page.html"]
