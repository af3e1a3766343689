"""`scripts/setup` (what `scripts/demo` runs) installs the project without its test extras: every
third-party module the shipped packages import must come with the base dependencies."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("hub", "mediators", "adapters", "terminology")


def base_distributions() -> set[str]:
    """The distributions `pip install .` brings: the declared dependencies and theirs, without extras
    the project does not ask for."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [(Requirement(r), "") for r in declared]
    seen: set[str] = set()
    done: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        wanted = ("", *sorted(requirement.extras))
        if (name, wanted) in done:
            continue
        done.add((name, wanted))
        seen.add(name)
        try:
            their = requires(name) or []
        except PackageNotFoundError:  # a requirement for another platform or Python
            continue
        todo += [(Requirement(r), e) for r in their for e in wanted]
    return seen


def imported_modules() -> dict[str, str]:
    """Each third-party top-level module the shipped code imports, and one file that imports it."""
    first_party = set(SHIPPED)
    found: dict[str, str] = {}
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in first_party:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_module_comes_with_the_base_dependencies():
    base = base_distributions()
    providers = packages_distributions()
    missing = {
        module: where
        for module, where in imported_modules().items()
        if not {canonicalize_name(d) for d in providers.get(module, [])} & base
    }
    assert not missing, f"imported, but installed only by the test extras or not at all: {missing}"
