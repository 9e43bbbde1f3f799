"""Reads the rule data files (TOML) into the domain's rule tables.

The packaged defaults live in `workflow/data/`; settings may point at copies so ops can change the
rules without a code change. Every error is a `ValueError` that starts with the file's name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from workflow.domain.model_rules import ModelRules, RegionalOffices
from workflow.domain.rules import RuleBook

T = TypeVar("T")

MODEL_RULES_FILE = "model_rules.toml"
REGIONAL_OFFICES_FILE = "regional_offices.toml"


def packaged_data(name: str) -> Traversable:
    """A data file shipped inside the `workflow` package (works from a wheel too)."""
    return files("workflow").joinpath("data", name)


def load_model_rules(path: Path | None = None) -> ModelRules:
    """Model families and their reset methods; `None` reads the packaged default."""
    return _load(path or packaged_data(MODEL_RULES_FILE), ModelRules.from_mapping)


def load_regional_offices(path: Path | None = None) -> RegionalOffices:
    """Served countries and regional offices; `None` reads the packaged default."""
    return _load(path or packaged_data(REGIONAL_OFFICES_FILE), RegionalOffices.from_mapping)


def load_rule_book(
    model_rules_path: Path | None = None, regional_offices_path: Path | None = None
) -> RuleBook:
    """Both files at once, as `verify` wants them."""
    return RuleBook(
        models=load_model_rules(model_rules_path),
        offices=load_regional_offices(regional_offices_path),
    )


def _load(source: Path | Traversable, build: Callable[[dict[str, Any]], T]) -> T:
    text = source.read_text(encoding="utf-8")
    try:
        return build(tomllib.loads(text))
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError too
        raise ValueError(f"{source}: {exc}") from exc
