"""Fixtures of the Python API tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # NOTE: `pytest_plugins = ["pytester"]` is refused in a conftest below the rootdir's.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
