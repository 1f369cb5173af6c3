"""The settings table (integration_hub/config/table.py) against the settings and the docs:
every variable is documented with its default, every variable the docs name is read."""

from __future__ import annotations

import dataclasses
import re
import runpy

import pytest

from integration_hub.config import ServingSettings, Settings, WebhookSettings, serving_settings
from integration_hub.config import settings as groups
from integration_hub.config.table import APP_SETTINGS, SERVING_SETTINGS, TABLE
from tests.conftest import REPO_ROOT

# HUB_* names the docs use that are no setting of the hub: the test suite's and the
# benchmarks' own variables, and a shell variable of docs/deployment.md.
NOT_SETTINGS = re.compile(r"HUB_(TEST_|BENCH_)\w+|HUB_REQUIRE_ALL|HUB_HOST")
VARIABLE = re.compile(r"HUB_(?:[A-Z0-9_]|<TYPE>)+")
NOT_VARIABLES = {"token_last_used_resolution"}  # a Settings field no variable sets


def readme_rows() -> list[tuple[list[str], str]]:
    """(variables, default) of each row of the README's configuration table."""
    section = (REPO_ROOT / "README.md").read_text().split("\n## Configuration\n")[1]
    section = section.split("\n## ")[0]
    rows = []
    for line in section.splitlines():
        match = re.fullmatch(r"\| (`.+?) \| (.+?) \| .+ \|", line)
        if match:
            rows.append((re.findall(r"`([^`]+)`", match[1]), match[2]))
    return rows


def entry(name: str):
    return next(setting for setting in TABLE if name in setting.names)


def test_the_readme_table_is_read():
    rows = readme_rows()
    assert len(rows) > 40
    assert (["HUB_ENV"], "`development`") in rows


def test_every_setting_is_documented_with_its_default():
    documented = {name for names, _ in readme_rows() for name in names}
    assert [s.env for s in TABLE if not set(s.names) <= documented] == []
    for names, default in readme_rows():
        entries = list(dict.fromkeys(entry(name) for name in names))  # a family is one entry
        assert default == ", ".join(s.documented_default for s in entries), names


def test_every_documented_variable_is_a_setting():
    known = {name for setting in TABLE for name in setting.names}
    assert [name for names, _ in readme_rows() for name in names if name not in known] == []


@pytest.mark.parametrize("path", ["README.md", "docs/*.md", "deploy/**/*", "Makefile"])
def test_every_variable_the_docs_name_is_a_setting(path):
    files = [p for p in REPO_ROOT.glob(path) if p.is_file()]
    assert files
    unknown = {(p.relative_to(REPO_ROOT).as_posix(), name) for p in files
               for name in VARIABLE.findall(p.read_text())
               if not NOT_SETTINGS.fullmatch(name) and not any(s.matches(name) for s in TABLE)}
    assert unknown == set()


def test_the_tables_give_every_field_once():
    app = [s.attr for s in APP_SETTINGS if s.attr]
    assert len(app) == len(set(app))
    assert set(app) == {f.name for f in dataclasses.fields(Settings)} - NOT_VARIABLES
    assert [s.attr for s in SERVING_SETTINGS] == [f.name for f in dataclasses.fields(ServingSettings)]
    assert len({s.env for s in TABLE}) == len(TABLE)


def test_each_setting_is_in_one_group():
    group_fields = [f.name for group in Settings.__bases__ for f in dataclasses.fields(group)]
    assert len(group_fields) == len(set(group_fields))
    assert set(group_fields) == {s.attr for s in APP_SETTINGS if s.attr}
    assert all(dataclasses.is_dataclass(group) and group.__module__ == groups.__name__
               for group in Settings.__bases__)


def test_a_group_is_its_part_of_the_settings(tmp_path):
    settings = Settings.from_env({"HUB_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://",
                                  "HUB_WEBHOOK_TIMEOUT": "3"})
    assert settings.webhooks == WebhookSettings(**{
        f.name: getattr(settings, f.name) for f in dataclasses.fields(WebhookSettings)})
    assert settings.webhooks.webhook_timeout_seconds == 3.0
    changed = dataclasses.replace(settings, webhook_timeout_seconds=0.5)
    assert changed.webhooks.webhook_timeout_seconds == 0.5
    assert changed.logs == settings.logs


def test_serving_defaults_and_overrides():
    defaults = serving_settings({})
    assert (defaults.bind, defaults.threads, defaults.worker_timeout) == ("127.0.0.1:8000", 8, 120)
    assert 1 <= defaults.workers <= 4
    assert (defaults.forwarded_allow_ips, defaults.access_log) == ("127.0.0.1,::1", None)
    given = serving_settings({"HUB_BIND": " unix:/run/hub.sock ", "HUB_WORKERS": "3",
                              "HUB_THREADS": "12", "HUB_WORKER_TIMEOUT": "60",
                              "HUB_FORWARDED_ALLOW_IPS": "10.0.0.2", "HUB_ACCESS_LOG": "-"})
    assert given == ServingSettings("unix:/run/hub.sock", 3, 12, 60, "10.0.0.2", "-")


def test_gunicorn_reads_the_serving_settings(monkeypatch, tmp_path):
    # The configuration sets this for its workers; given here, it is undone after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_BIND", "127.0.0.1:8123")
    monkeypatch.setenv("HUB_WORKERS", "2")
    monkeypatch.setenv("HUB_ACCESS_LOG", "")
    config = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))
    assert (config["bind"], config["workers"], config["threads"], config["timeout"]) == (
        "127.0.0.1:8123", 2, 8, 120)
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1" and config["accesslog"] is None
