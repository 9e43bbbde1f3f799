"""Count the (file, adapter module) import pairs from the entry layers into ``workflow.adapters``.

Entry layers (console/, consumers/, schedulers/) should decode input, build a command and hand it
to the message bus, and read through ``workflow.adapters.queries``; every other adapter import is
a pair this script prints. ``from workflow.adapters import a, b`` counts as two pairs (one per
module named); imports inside functions count too. Exits 1 when the total exceeds the threshold
given as the first argument (default: no threshold).

    python scripts/count_adapter_imports.py 5
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY_LAYERS = ("console", "consumers", "schedulers")
ADAPTERS = "workflow.adapters"
ALLOWED = "workflow.adapters.queries"


def _is_allowed(module: str) -> bool:
    return module == ALLOWED or module.startswith(ALLOWED + ".")


def _adapter_modules(node: ast.AST) -> Iterator[str]:
    """The adapter modules one import statement names (a module per ``from … import`` name
    when the names are themselves modules of the package)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == ADAPTERS or alias.name.startswith(ADAPTERS + "."):
                yield alias.name
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module == "workflow":
            if any(alias.name == "adapters" for alias in node.names):
                yield ADAPTERS
        elif node.module == ADAPTERS:
            for alias in node.names:
                yield f"{ADAPTERS}.{alias.name}"
        elif node.module.startswith(ADAPTERS + "."):
            yield node.module


def pairs(root: Path = ROOT) -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for layer in ENTRY_LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            rel = path.relative_to(root).as_posix()
            for node in ast.walk(tree):
                for module in _adapter_modules(node):
                    if not _is_allowed(module):
                        found.add((rel, module))
    return sorted(found)


def main(argv: list[str]) -> int:
    threshold = int(argv[1]) if len(argv) > 1 else None
    found = pairs()
    for path, module in found:
        print(f"{path}\t{module}")
    print(f"total: {len(found)}")
    if threshold is not None and len(found) > threshold:
        print(f"above the threshold of {threshold}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
