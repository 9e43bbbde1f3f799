"""No module of the application packages grows past 300 lines: past that a module holds more
than one concern, and the next change to it is a merge conflict waiting to happen."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("workflow", "consumers", "schedulers", "schemas", "console", "resetdesk")
LIMIT = 300


def test_no_application_module_is_over_300_lines() -> None:
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
             for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    assert len(sizes) > 100, "the packages were not found"
    too_long = {name: n for name, n in sizes.items() if n > LIMIT}
    assert not too_long, f"split these by concern: {too_long}"
