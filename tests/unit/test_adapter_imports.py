"""The entry layers' adapter imports stay counted and few (issue #10: at most 5, queries aside)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("count_adapter_imports",
                                                  ROOT / "scripts" / "count_adapter_imports.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_entry_layers_import_at_most_five_adapter_modules() -> None:
    found = _script().pairs()
    assert len(found) <= 5, found


def test_every_import_shape_counts_and_queries_do_not(tmp_path: Path) -> None:
    for layer in ("console", "consumers", "schedulers"):
        (tmp_path / layer).mkdir()
    (tmp_path / "console" / "a.py").write_text(
        "from workflow.adapters import inbox, queries\n"
        "from workflow.adapters.db import Database\n"
        "from workflow.adapters.queries.accounts import Producer\n")
    (tmp_path / "consumers" / "b.py").write_text(
        "import workflow.adapters.tables\n"
        "def later():\n    from workflow.adapters.db import open_database\n")
    (tmp_path / "schedulers" / "c.py").write_text("from workflow import adapters\n")
    assert _script().pairs(tmp_path) == [
        ("console/a.py", "workflow.adapters.db"), ("console/a.py", "workflow.adapters.inbox"),
        ("consumers/b.py", "workflow.adapters.db"), ("consumers/b.py", "workflow.adapters.tables"),
        ("schedulers/c.py", "workflow.adapters")]


def test_the_script_fails_above_its_threshold(capsys: object) -> None:
    script = _script()
    count = len(script.pairs())
    assert script.main(["count", str(count)]) == 0
    if count:
        assert script.main(["count", str(count - 1)]) == 1
