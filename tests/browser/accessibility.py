"""Accessibility check with axe-core, vendored under ``tests/browser/vendor/axe-core`` (never fetched).

``serious_violations(page)`` injects axe into the loaded page, runs it and returns the serious and
critical violations in a readable form, so a test can ``assert not serious_violations(page)`` and
show what failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def serious_violations(page: Any) -> list[str]:
    """The serious and critical axe-core violations on ``page``, one line per rule and node."""
    page.evaluate(AXE.read_text(encoding="utf-8"))  # not a <script>: a page's CSP may refuse it
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    lines: list[str] = []
    for violation in result["violations"]:
        if violation.get("impact") not in BLOCKING:
            continue
        for node in violation["nodes"]:
            lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} "
                         f"at {node['target']} ({node.get('failureSummary', '')})")
    return lines
