"""Shared fixtures: real databases, one schema/database per test, and the shared datasets.

PostgreSQL (127.0.0.1:5432, postgres, db test) and MariaDB (127.0.0.1:3306, root, db test)
are used for real. When one is absent its tests skip with the reason, unless
FERRYMAN_REQUIRE_SERVICES=1 (CI), where absence is a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from ferryman.flows.project.environment import quiet_environment
from tests.helpers.project import ProjectBuilder

quiet_environment(os.environ)

REQUIRE_SERVICES = os.environ.get("FERRYMAN_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("FERRYMAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("FERRYMAN_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _unavailable(what: str, why: str) -> None:
    message = f"{what} is not available ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; FERRYMAN_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


def _reachable(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure means "not available"
        return str(err).splitlines()[0]
    else:
        return None
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Database:
    """One test's own database: a URL that lands in a fresh schema/database, and an engine."""

    backend: str
    url: str
    engine: sa.Engine


@pytest.fixture(scope="session")
def postgres_available() -> str:
    why = _reachable(PG_URL)
    if why:
        _unavailable("PostgreSQL at 127.0.0.1:5432", why)
    return PG_URL


@pytest.fixture(scope="session")
def mariadb_available() -> str:
    why = _reachable(MARIADB_URL)
    if why:
        _unavailable("MariaDB at 127.0.0.1:3306", why)
    return MARIADB_URL


def _name() -> str:
    return f"ft_{secrets.token_hex(5)}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--crash-points",
        type=int,
        default=0,
        help="crash tests: also kill runs at this many random moments (make test-crash)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Random crash points exist only when asked for (make test-crash); without the option
    their parametrization is empty and pytest would report a skip, so deselect them."""
    if config.getoption("--crash-points"):
        return
    keep = [i for i in items if "crash_point" not in getattr(i, "fixturenames", ())]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@contextmanager
def _scratch(admin_url: str, create: str, drop: str, url: str, backend: str) -> Iterator[Database]:
    """Create a schema/database, hand out an engine on it, and drop it afterwards."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(create))
    engine = sa.create_engine(url)
    try:
        yield Database(backend, url, engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(drop))
        admin.dispose()


@pytest.fixture
def postgres_db(postgres_available: str) -> Iterator[Database]:
    schema = _name()
    url = f"{postgres_available}?options=-csearch_path%3D{schema}"
    with _scratch(
        postgres_available,
        f'CREATE SCHEMA "{schema}"',
        f'DROP SCHEMA "{schema}" CASCADE',
        url,
        "postgres",
    ) as db:
        yield db


@pytest.fixture
def mariadb_db(mariadb_available: str) -> Iterator[Database]:
    name = _name()
    url = mariadb_available.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    with _scratch(
        mariadb_available,
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
        f"DROP DATABASE `{name}`",
        url,
        "mariadb",
    ) as db:
        yield db


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'target.db'}"
    engine = sa.create_engine(url)
    try:
        yield Database("sqlite", url, engine)
    finally:
        engine.dispose()


@contextmanager
def fresh_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Another scratch database of the same engine, for tests that need two."""
    if backend == "sqlite":
        path = tmp_path / f"{_name()}.db"
        engine = sa.create_engine(f"sqlite:///{path}")
        try:
            yield Database("sqlite", f"sqlite:///{path}", engine)
        finally:
            engine.dispose()
        return
    name = _name()
    if backend == "postgres":
        admin_url = request.getfixturevalue("postgres_available")
        url = f"{admin_url}?options=-csearch_path%3D{name}"
        with _scratch(
            admin_url, f'CREATE SCHEMA "{name}"', f'DROP SCHEMA "{name}" CASCADE', url, "postgres"
        ) as db:
            yield db
        return
    admin_url = request.getfixturevalue("mariadb_available")
    url = admin_url.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    with _scratch(
        admin_url,
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
        f"DROP DATABASE `{name}`",
        url,
        "mariadb",
    ) as db:
        yield db


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The same test against each engine, with ids sqlite / postgres / mariadb."""
    db: Database = request.getfixturevalue(f"{request.param}_db")
    return db


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        _unavailable("../shared/datasets", f"{DATASETS} does not exist")
    return DATASETS


@pytest.fixture
def project_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectBuilder:
    """Builds a small project in tmp_path: `project_builder(db, {"items": SPEC}, legacy=...)`."""
    return ProjectBuilder(tmp_path, monkeypatch)
