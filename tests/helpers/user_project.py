"""A user's project far from the repository, with Python packages of its own named `flows`
and `validations`: what the packaging and Prefect deployment tests run ferryman in."""

from __future__ import annotations

from pathlib import Path

PEOPLE_SPEC = (
    "target: people\n"
    "source: {connection: legacy, file: PEOPLE.CSV}\n"
    "key: [person_id]\n"
    "fields:\n"
    "  person_id: {from: ID, type: integer}\n"
    "  name: {from: NAME, transform: [trim, title], type: string(40)}\n"
    "suites: [people]\n"
)
PEOPLE_SUITE = (
    "name: people\n"
    "expectations:\n"
    "  - type: expect_column_values_to_not_be_null\n"
    "    kwargs: {column: name}\n"
    "    severity: row\n"
)


def write_user_project(root: Path, name: str, target_url: str, package_init: str) -> Path:
    """`root` gets a CSV source of 3 people, one spec and suite, a target at `target_url`
    (a `${VAR}` form, usually), and `flows/` and `validations/` packages whose
    `__init__.py` is `package_init` (formatted with `{package}`)."""
    (root / "legacy").mkdir(parents=True)
    (root / "legacy" / "PEOPLE.CSV").write_text("ID,NAME\n1, ada\n2,grace \n3,linus\n")
    (root / "ferryman.yaml").write_text(
        f"name: {name}\n"
        "connections:\n"
        "  legacy: {kind: csv, path: legacy}\n"
        "  target:\n"
        "    kind: sql\n"
        f"    url: {target_url}\n"
        "defaults: {batch_size: 2}\n"
    )
    (root / "mappings" / "specs").mkdir(parents=True)
    (root / "mappings" / "specs" / "people.yaml").write_text(PEOPLE_SPEC)
    (root / "validations" / "suites").mkdir(parents=True)
    (root / "validations" / "suites" / "people.yaml").write_text(PEOPLE_SUITE)
    (root / "flows").mkdir()
    for package in ("flows", "validations"):
        (root / package / "__init__.py").write_text(package_init.format(package=package))
    return root
