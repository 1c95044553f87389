"""What a test does when a tool it drives (Chromium, Playwright, npm, nbgrader, Jupyter Book) is not installed."""
from __future__ import annotations

import os

import pytest


def missing_tool(message: str) -> None:
    """Skip with ``message`` (the command that installs the tool), or fail when ``$CI`` is ``true``: CI installs
    every tool, so there a missing one is a broken set-up, not a reason to skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
