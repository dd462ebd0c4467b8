"""prefect.yaml names real flows with parameters they accept."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml  # PyYAML comes with Prefect
from prefect import Flow

ROOT = Path(__file__).resolve().parents[2]


def test_every_deployment_points_at_a_flow_with_its_parameters() -> None:
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = set()
    for dep in doc["deployments"]:
        path, func = dep["entrypoint"].split(":")
        module = path  # module entrypoints: the flows come from the installed package
        flow = getattr(importlib.import_module(module), func)
        assert isinstance(flow, Flow), dep["name"]
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(dep.get("parameters", {})) <= accepted, dep["name"]
        names.add(dep["name"])
    assert {"migrate", "resume", "rollback"} <= names
