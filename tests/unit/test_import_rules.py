"""The import rules (.importlinter, docs/architecture.md "Import rules") hold for the
package, and a forbidden import breaks them: the check is real, not decoration."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=project, text=True,
                          capture_output=True, timeout=120,
                          env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def copy_of_the_package(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "integration_hub", project / "integration_hub",
                    ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.svg", "*.html",
                                                  "*.css", "*.js", "*.png"))
    shutil.copy(ROOT / ".importlinter", project / ".importlinter")
    return project


def test_the_package_keeps_its_import_rules():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "forbidden", "rule"), [
    ("db/base.py", "integration_hub.api", "integration_hub.db is not allowed to import "
                                          "integration_hub.api"),
    ("records/store.py", "integration_hub.edge.security",
     "integration_hub.records is not allowed to import integration_hub.edge"),
    ("api/root/resources.py", "integration_hub.web",
     "integration_hub.api is not allowed to import integration_hub.web"),
    ("audit/entries.py", "integration_hub.webhooks.events",
     "integration_hub.audit is not allowed to import integration_hub.webhooks"),
])
def test_a_forbidden_import_breaks_the_rules(copy_of_the_package, module, forbidden, rule):
    source = copy_of_the_package / "integration_hub" / module
    original = source.read_text()
    try:
        source.write_text(original + f"\nimport {forbidden}  # noqa\n")
        result = lint_imports(copy_of_the_package)
    finally:
        source.write_text(original)
    assert result.returncode != 0
    assert rule in result.stdout, result.stdout
