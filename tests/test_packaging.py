"""Everything nsb imports is in the wheel: a package missing from pyproject's list works in the editable
install the tests use and breaks `pip install nsb`."""

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(project["packages"])
    roots = {name: REPO / folder for name, folder in project["package-dir"].items()}
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            if "__pycache__" in init.parts or "build" in init.relative_to(REPO).parts[:1]:
                continue
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((name, *rel)))
    missing = sorted(found - listed)
    assert not missing, f"packages missing from pyproject.toml: {missing}"


def test_every_shipped_config_is_package_data():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = project["nsb.configs"]
    for path in (REPO / "configs").rglob("*.toml"):
        rel = path.relative_to(REPO / "configs")
        if rel.parts[0] == "neurobench":
            continue
        assert any(rel.match(p) for p in patterns), f"configs/{rel} is not installed (package-data of nsb.configs)"
