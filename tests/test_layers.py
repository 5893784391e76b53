"""ARCHITECTURE.md's layers hold (ADR 0014): the import-linter contract in pyproject.toml passes,
and it names every package of ``tousu``, so a new package cannot sit outside the layers."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "tousu"


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    return contract


def _layer_names(contract: dict) -> list[str]:
    names = []
    for layer in contract["layers"]:
        names += [n.strip() for n in layer.replace(":", "|").split("|")]
    return names


def test_every_package_is_in_a_layer():
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert sorted(_layer_names(_contract())) == packages


def test_the_case_services_are_above_the_deadlines_and_analytics_above_both():
    names = _layer_names(_contract())
    assert names.index("analytics") < names.index("complaints") < names.index("sla")
    assert names.index("sla") < names.index("vocabulary") < names.index("common")


def test_privacy_sits_below_the_pages_and_above_the_channels():
    names = _layer_names(_contract())
    assert names.index("api") < names.index("privacy") < names.index("channels")


def test_the_knowledge_base_sits_below_the_intake_channels_and_above_triage():
    names = _layer_names(_contract())
    assert names.index("channels") < names.index("knowledge") < names.index("triage")


def test_imports_flow_down_the_layers():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 1 kept, 0 broken." in done.stdout
