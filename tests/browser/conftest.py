"""What the browser suites share: the closing summary of where the screenshots are."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A folder per test, with its screenshots (and, when it fails, the page, console and server log).
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or ROOT / "tests" / "browser" / "artifacts").resolve()


class _Summary:
    """Names, in pytest's closing summary, where the screenshots are."""

    def __init__(self):
        self.folders = []

    def pytest_terminal_summary(self, terminalreporter):
        shots = [p for f in self.folders for p in sorted(f.glob("*.png"))]
        if shots:
            terminalreporter.write_line(f"browser screenshots: {len(shots)} PNG under {ARTIFACTS}/"
                                        " (a folder per test)")


@pytest.fixture(scope="session")
def summary(request):
    s = _Summary()
    request.config.pluginmanager.register(s, "browser-artifacts-summary")
    return s
