"""The install is reproducible: requirements.lock pins, with hashes, a set that satisfies
every range pyproject.toml declares (extras included), so `make lock` is never forgotten
after a dependency changes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK_TEXT = (ROOT / "requirements.lock").read_text(encoding="utf-8")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)


def locked() -> dict[str, Version]:
    return {canonicalize_name(name): Version(version) for name, version in PIN.findall(LOCK_TEXT)}


def declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(text) for text in extra]
    return requirements


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, outside {requirement}: run `make lock`"
        )


def test_every_locked_package_has_a_hash_and_no_extras() -> None:
    pins = list(PIN.finditer(LOCK_TEXT))
    assert len(pins) == len(locked()) > 20
    for pin, following in zip(pins, [*pins[1:], None], strict=True):
        block = LOCK_TEXT[pin.start() : following.start() if following else len(LOCK_TEXT)]
        assert "--hash=sha256:" in block, pin.group(0)
    # pip before 23.3 ignores extras it cannot normalise: the lock names every package.
    assert not re.search(r"^[A-Za-z0-9][^\s]*\[", LOCK_TEXT, re.MULTILINE)


def test_the_html_clean_up_module_is_declared_directly() -> None:
    # trafilatura -> jusText imports lxml.html.clean; an extra that old pips drop must not be
    # the only thing that brings it.
    names = {canonicalize_name(r.name) for r in declared()}
    assert "lxml-html-clean" in names
    assert "lxml-html-clean" in locked()


def test_the_licence_is_an_spdx_string() -> None:
    # A TOML table is deprecated by setuptools and warned about on every install.
    assert PYPROJECT["project"]["license"] == "MIT"
