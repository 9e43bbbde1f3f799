"""The customer pages' texts: one TOML catalogue per language (``console/locales/<lang>.toml``).

Pages never hold a sentence: they name a key (``key.confirm_q``) and ``t`` finds it in the
customer's language. A language the desk does not speak falls back to English; a key missing
from a catalogue is a bug (``KeyError``), which the catalogue tests catch before a customer does.
"""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = ("en", "fr")
DEFAULT = "en"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = str(value)
    return out


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every text of ``language`` by dotted key (``section.name``): ``<lang>.toml`` and the
    catalogues of page families kept apart (``locales/<family>/<lang>.toml``), which may not
    redefine a key."""
    texts: dict[str, str] = {}
    for path in (LOCALES / f"{language}.toml", *sorted(LOCALES.glob(f"*/{language}.toml"))):
        with path.open("rb") as f:
            found = _flatten(tomllib.load(f))
        if clash := set(found) & set(texts):
            raise ValueError(f"{path} redefines {sorted(clash)}")
        texts.update(found)
    return texts


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a text expects."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def pick(language: str | None) -> str:
    """``language`` if the desk speaks it (``fr-CA`` counts as ``fr``), else English."""
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else DEFAULT


def negotiate(accept_language: str | None) -> str:
    """The best language of an ``Accept-Language`` header, for pages that know no ticket."""
    best, best_q = DEFAULT, 0.0
    for i, item in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        q -= i * 1e-6  # the first of equal weights wins
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and q > best_q:
            best, best_q = base, q
    return best


def t(language: str, key: str, **params: Any) -> str:
    """The text of ``key`` in ``language`` (English if unsupported), ``{placeholders}`` filled."""
    text = catalogue(pick(language))[key]
    return text.format(**params) if params else text
