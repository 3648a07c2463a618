"""The layers of index/ import downwards only, and no module borrows another's private names.

From the bottom: the base modules (configuration, errors, domain objects); the concerns
(sources, passages, embedding, storage), each using only the base and itself; the knowledge
base and its helpers; the web, on top. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

INDEX = Path(__file__).resolve().parents[1] / "index"
BASE = {"index.config", "index.errors", "index.models"}
CONCERNS = ("index.sources", "index.passages", "index.embedding", "index.storage")
KNOWLEDGE_BASE = {
    "index.knowledge_base",
    "index.article_identity",
    "index.article_preparation",
    "index.ranking",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(INDEX.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every absolute import of index modules in `path`."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return [(module, names) for module, names in found if module.split(".")[0] == "index"]


def allowed(importer: str, imported: str) -> bool:
    if imported in BASE:
        return True
    if importer in BASE:
        return False
    for package in CONCERNS:
        if importer.startswith(package + "."):
            return imported.startswith(package + ".")
    if importer in KNOWLEDGE_BASE:
        return imported in KNOWLEDGE_BASE or imported.startswith(
            tuple(package + "." for package in CONCERNS)
        )
    return importer.startswith("index.web.")


MODULES = sorted(p for p in INDEX.rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_imports_point_down_the_layers(path: Path) -> None:
    importer = module_name(path)
    upward = [
        module for module, _ in imports(path) if module != "index" and not allowed(importer, module)
    ]
    assert upward == [], f"{importer} imports from a layer above it or beside it: {upward}"


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_no_module_imports_private_names_of_another(path: Path) -> None:
    private = [
        f"{module}.{name}"
        for module, names in imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_packages_re_export_nothing() -> None:
    # Importing index.sources.dates must not load trafilatura (index.sources.html), nor
    # index.web.fetch the knowledge base: the packages' __init__ files import nothing.
    for init in INDEX.glob("*/__init__.py"):
        assert imports(init) == [], init
