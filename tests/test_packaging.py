"""ferryman as a user gets it: a wheel, installed (not editable) into a fresh venv, used
from a project folder outside the repository that has its own `flows/` and `validations/`
Python packages.

The fresh venv holds only the ferryman wheel (`pip install --no-deps`); its dependencies
come from this repository's venv through a `.pth` line (the line adds that site-packages
to `sys.path` but does not run its `.pth` files, so the editable ferryman of `.venv` is
invisible). Installing the dependencies for real would take minutes and the network, and
test pip rather than ferryman. Building the wheel uses pip's build isolation (it fetches
setuptools from the index, or pip's cache).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.user_project import write_user_project

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# repository folder -> installed package (pyproject's [tool.setuptools.package-dir])
PACKAGE_DIRS = {
    "ferryman": "ferryman",
    "connectors": "ferryman/connectors",
    "mappings": "ferryman/mappings",
    "validations": "ferryman/validations",
    "flows": "ferryman/flows",
}
# The only files besides modules that ship: nothing of a project (specs, suites, examples).
PACKAGE_DATA = {"ferryman/py.typed", "ferryman/mappings/spec.schema.json"}
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".typecheck",
    ".hypothesis", ".demo", ".chinook", "results",
)  # fmt: skip


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a clean copy of the sources (no stale build/ leftovers, and
    nothing written into the working tree that other test processes read)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp), str(src)], tmp)
    (built,) = tmp.glob("ferryman-*.whl")
    return built


@dataclass(frozen=True)
class Venv:
    root: Path
    python: Path
    ferryman: Path
    site_packages: Path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("venv") / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)], root.parent)
    python = root / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(python), "-c", purelib], root).strip())
    (site / "_repo_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q"]
    _run([*pip, str(wheel)], root)
    return Venv(root, python, root / "bin" / "ferryman", site)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project, far from the repository: a CSV source, a SQLite target, and its
    own `flows` and `validations` Python packages (validations/ also holds its suites)."""
    root = tmp_path_factory.mktemp("user") / "my-migration"
    return write_user_project(
        root,
        "packaging-test",
        "${TARGET_URL:-sqlite:///target.db}",
        'WHO = "the project\'s {package}"\n',
    )


def _user_env(tmp: Path) -> dict[str, str]:
    """The user's shell: no PYTHONPATH to this repository, no Prefect server of the test
    session (ferryman starts its own temporary one), a Prefect home of its own."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "PYTHONPATH"
    }
    env["PREFECT_HOME"] = str(tmp / "prefect-home")
    return env


def test_the_wheel_holds_ferryman_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if re.fullmatch(r"ferryman-[^/]+\.dist-info", t)}
    assert len(dist_info) == 1, top
    assert top == {"ferryman", *dist_info}


def test_every_package_and_module_of_the_repository_is_in_the_wheel(wheel: Path) -> None:
    """A sub-package forgotten in pyproject's explicit `packages` list would be missing."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for folder, installed in PACKAGE_DIRS.items():
        for module in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in module.parts:
                expected.add(f"{installed}/{module.relative_to(ROOT / folder).as_posix()}")
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (pyproject.toml [tool.setuptools] packages?): {missing}"
    packages = {n.rsplit("/", 1)[0] for n in expected if n.endswith("/__init__.py")}
    dirs = {m.rsplit("/", 1)[0] for m in expected}
    assert dirs <= packages, f"folders of modules without __init__.py: {sorted(dirs - packages)}"


def test_the_only_package_data_is_the_schema_and_py_typed(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = {n for n in names if n.startswith("ferryman/") and not n.endswith(".py")}
    assert data == PACKAGE_DATA
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert (
        "ferryman = ferryman.flows.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_imports_resolve_to_the_project_and_to_the_installed_ferryman(
    venv: Venv, project: Path, tmp_path: Path
) -> None:
    code = (
        "import flows, validations, ferryman, ferryman.flows, ferryman.validations\n"
        "import ferryman.flows.prefect_flows\n"
        "for m in (flows, validations, ferryman, ferryman.flows, ferryman.validations):\n"
        "    print(m.__name__, m.__file__)\n"
        "print(flows.WHO, '|', validations.WHO)\n"
    )
    out = _run([str(venv.python), "-c", code], project, _user_env(tmp_path)).splitlines()
    where = dict(line.split(" ", 1) for line in out[:5])
    assert where["flows"] == str(project / "flows" / "__init__.py")
    assert where["validations"] == str(project / "validations" / "__init__.py")
    for name in ("ferryman", "ferryman.flows", "ferryman.validations"):
        assert Path(where[name]).is_relative_to(venv.site_packages), (name, where[name])
    assert out[5] == "the project's flows | the project's validations"


def test_check_and_run_from_the_project_folder(venv: Venv, project: Path, tmp_path: Path) -> None:
    env = _user_env(tmp_path)
    out = _run([str(venv.ferryman), "check"], project, env)
    assert out.startswith("ok: 1 spec(s), 1 suite(s)"), out
    _run([str(venv.ferryman), "run"], project, env)
    with sqlite3.connect(project / "target.db") as db:
        rows = db.execute("SELECT person_id, name FROM people ORDER BY person_id").fetchall()
    assert rows == [(1, "Ada"), (2, "Grace"), (3, "Linus")]
    assert not (ROOT / "target.db").exists()
