"""The newcomer's path with ``up`` on a port of its own: every hint it prints works as printed,
every command finds the server through ``--data-dir``, and links point to that port."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.requests import request
from tests.e2e.running import ROOT, RunningDesk
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    """A shell with nothing of ResetDesk's set: only what the printed command carries counts."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RESETDESK_")}


def _run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "resetdesk", *args], cwd=cwd, env=_env(),
                          input=stdin, capture_output=True, text=True, timeout=60)


def _printed(banner: str, label: str) -> list[str]:
    """The banner's command after ``label``, as a shell would split it, minus ``uv run``
    (the test runs the same interpreter with ``python -m``)."""
    [line] = [ln for ln in banner.splitlines() if ln.strip().startswith(label)]
    words = shlex.split(line.strip()[len(label):])
    assert words[:3] == ["uv", "run", "resetdesk"], line
    return words[3:]


def _queued(desk: RunningDesk, answer: str) -> str:
    """Wait (over HTTP, cheaper than a CLI process) until the request is processed; its reference."""
    body = json.loads(answer)
    status = desk.wait_processed(body["id"])
    assert status["status"] == "done" and status["ticket"]["state"] == "queued", status
    return str(body["reference"])


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDesk]:
    running = RunningDesk(tmp_path_factory.mktemp("data dir"), smtp_port=0)
    running.env.pop("RESETDESK_SMTP__HOST")  # emails become .eml files we can read
    running.env.pop("RESETDESK_SERVER__PUBLIC_URL", None)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A shell's working directory that is not the data directory (nothing may appear in it)."""
    return tmp_path


def test_the_banner_hints_work_as_printed_from_another_directory(desk: RunningDesk,
                                                                 elsewhere: Path) -> None:
    banner = desk.log.read_text()
    assert str(desk.port) in "".join(_printed(banner, "try it"))
    sent = _run(_printed(banner, "try it"), elsewhere)
    assert sent.returncode == 0, sent.stderr
    reference = _queued(desk, sent.stdout)
    listed = _run(_printed(banner, "tickets"), elsewhere)
    assert listed.returncode == 0 and reference in listed.stdout, listed.stderr
    assert list(elsewhere.iterdir()) == []
    recorded = json.loads((desk.data_dir / "resetdesk.json").read_text())
    assert recorded["public_url"] == desk.base and recorded["port"] == desk.port


def test_three_sample_publishes_give_three_queued_tickets(desk: RunningDesk,
                                                          elsewhere: Path) -> None:
    references = set()
    for _ in range(3):  # no --url: the port comes from the data directory's resetdesk.json
        sent = _run(["publish", "--sample", "--data-dir", str(desk.data_dir)], elsewhere)
        assert sent.returncode == 0, sent.stderr
        references.add(_queued(desk, sent.stdout))  # queued, not closed as a duplicate
    assert len(references) == 3


def _text(path: Path) -> str:
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = [str(mail["Subject"])]
    for part in mail.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def _docs_sample() -> dict[str, Any]:
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = text.split("## Sample", 1)[1]
    [block] = re.findall(r"```json\n(.*?)```", section.split("\n## ", 1)[0], flags=re.S)
    return json.loads(block)  # type: ignore[no-any-return]


def test_the_docs_sample_is_queued_by_the_embedded_default_verifier(desk: RunningDesk,
                                                                    elsewhere: Path) -> None:
    event = _docs_sample()
    file = elsewhere / "sample.json"
    file.write_text(json.dumps(event), encoding="utf-8")
    sent = _run(["publish", str(file), "--data-dir", str(desk.data_dir)], elsewhere)
    assert sent.returncode == 0, sent.stderr + sent.stdout
    status = desk.wait_processed(event["id"])
    assert status["status"] == "done", status
    assert status["ticket"]["state"] == "queued", status


def test_a_callback_booked_from_the_shell_mails_a_link_to_ups_port(desk: RunningDesk,
                                                                   elsewhere: Path) -> None:
    data_dir = str(desk.data_dir)
    event = request()
    reference = _queued(desk, desk.post(event).text)
    added = _run(["agents", "add", "alice", "--password-stdin", "--data-dir", data_dir], elsewhere,
                 stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    booked = _run(["tickets", "callback", reference, "--as", "alice", "--data-dir", data_dir],
                  elsewhere)
    assert booked.returncode == 0, booked.stderr
    assert "warning" not in booked.stderr  # the URL was found, not guessed
    link = f"{desk.base}/customer/callback/"
    wait_for(f"an email for {reference} that links to {link}", lambda: any(
        link in m for m in map(_text, (desk.data_dir / "mail").glob("*.eml")) if reference in m),
        30, every=0.2)
