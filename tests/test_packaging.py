"""The declared requirement ranges (pyproject.toml) hold the exact versions the project was tested
with (requirements.lock), every package of cgp_lib is found for the wheel, and the conda file
installs the lock."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonical(name)] = version.strip()
    return pins


def test_every_declared_range_contains_the_locked_version():
    pins = lock()
    declared = list(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        declared += extra
    checked = 0
    for text in declared:
        req = Requirement(text)
        if canonical(req.name) == "cgp-lib":
            continue  # an extra of the project itself
        assert canonical(req.name) in pins, f"{req.name} is declared but not in requirements.lock"
        assert req.specifier.contains(pins[canonical(req.name)]), (text, pins[canonical(req.name)])
        checked += 1
    assert checked >= 15


def test_runtime_requirements_are_ranges_not_pins():
    for text in PROJECT["dependencies"]:
        req = Requirement(text)
        assert not any(spec.operator == "==" for spec in req.specifier), text
        assert any(spec.operator == "<" for spec in req.specifier), f"{text}: no upper bound"


def test_every_subpackage_is_found_for_the_wheel():
    from setuptools import find_packages

    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = set(find_packages(str(ROOT), include=find["include"]))
    on_disk = {str(p.parent.relative_to(ROOT)).replace("/", ".") for p in (ROOT / "cgp_lib").rglob("__init__.py")}
    assert on_disk <= found and {"cgp_lib.repro", "cgp_lib.reference"} <= found


def test_the_conda_environment_installs_the_lock():
    text = (ROOT / "environment.yml").read_text()
    assert "- -r requirements.lock" in text and "- -e ." in text
