"""Browser tests: Debian's Chromium (``/usr/bin/chromium``, never a downloaded browser) driven by
Playwright against the real ``resetdesk up`` running as a separate OS process.

Without the browser the tests skip with the reason; with ``RESETDESK_REQUIRE_SERVICES=1`` (set by
.ci/run, which installs the ``chromium`` package when it is missing) they fail instead. One server
and one browser serve the whole session; each test gets a fresh browser context (no cookies).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import services
from tests.e2e.running import ROOT, RunningDesk
from tests.processes import PROCESS_START

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
#: the accounts every browser test may sign in with: login -> (password, role)
AGENTS = {"ada": ("ada-password-123", "agent"), "sam": ("sam-password-123", "supervisor")}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if services.required():
            pytest.fail(f"{reason}, and RESETDESK_REQUIRE_SERVICES=1 says it must be there",
                        pytrace=False)
        pytest.skip(f"{reason}: install it to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Console:
    """The running server, its base URL and the agents' passwords."""

    desk: RunningDesk
    base: str

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run([sys.executable, "-m", "resetdesk", "--data-dir",
                              str(self.desk.data_dir), *args], cwd=ROOT, env=self.desk.env,
                             input=stdin, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"resetdesk {' '.join(args)}: {out.stdout}{out.stderr}"
        return out.stdout

    def add_agent(self, login: str, password: str, role: str = "agent") -> None:
        self.cli("agents", "add", login, "--role", role, "--password-stdin", stdin=password + "\n")


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Console]:
    """``resetdesk up`` on a fresh data dir and a free port (emails become files), with the
    ``AGENTS`` accounts made through the CLI as an operator would."""
    desk = RunningDesk(tmp_path_factory.mktemp("console"), smtp_port=0)
    desk.env.pop("RESETDESK_SMTP__HOST", None)
    desk.env["RESETDESK_SCHEDULER__OPS_SAMPLE_SECONDS"] = "1"  # the ops pages' sparklines
    desk.start(timeout=PROCESS_START)
    try:
        running = Console(desk, desk.base)
        for login, (password, role) in AGENTS.items():
            running.add_agent(login, password, role)
        yield running
    finally:
        desk.stop()


@pytest.fixture
def requested() -> list[str]:
    """Every URL the test's browser context asked for, in order."""
    return []


@pytest.fixture
def page(browser: Any, console: Console, requested: list[str]) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies, no cache)."""
    context = browser.new_context(base_url=console.base)
    context.set_default_timeout(15_000)
    context.on("request", lambda request: requested.append(request.url))
    yield context.new_page()
    context.close()
