"""The layout stays easy to see (docs/architecture.md): no folder of the package holds
more than 15 modules, and every package is named on the map."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "integration_hub"
MAX_MODULES = 15


def folders() -> list[Path]:
    return [PACKAGE, *sorted(p for p in PACKAGE.rglob("*") if p.is_dir()
                             and p.name != "__pycache__" and any(p.glob("*.py")))]


def test_no_folder_holds_more_than_fifteen_modules():
    crowded = {str(folder.relative_to(ROOT)): count for folder in folders()
               if (count := len(list(folder.glob("*.py")))) > MAX_MODULES}
    assert crowded == {}


def test_the_architecture_map_names_every_package_and_top_level_module():
    text = (ROOT / "docs" / "architecture.md").read_text()
    names = [str(init.parent.relative_to(PACKAGE)) + "/" for init in PACKAGE.rglob("__init__.py")
             if init.parent != PACKAGE]
    names += [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    missing = [name for name in names if f"`{name}`" not in text]
    assert missing == []
