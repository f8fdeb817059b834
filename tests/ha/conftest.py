"""The Home Assistant schema tier: collected only when ``scripts/test-ha`` runs it.

Heavy (a separate Python 3.13 venv with ``homeassistant`` installed), so the
ordinary suite never collects it: ``LIGHTBOX_HA_SCHEMAS=1`` (set by the script)
turns it on. Registers the ``ha`` marker here, so the shared pytest configuration
stays as it is.
"""

from __future__ import annotations

import os

import pytest

collect_ignore_glob = [] if os.environ.get("LIGHTBOX_HA_SCHEMAS") else ["test_*.py"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the tier's marker (``--strict-markers`` is on)."""
    config.addinivalue_line("markers", "ha: checks against Home Assistant's own code "
                                       "(scripts/test-ha)")
