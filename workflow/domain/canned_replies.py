"""Canned replies and macros for the agents' reply box, read from ``canned_replies.toml``.

A canned reply is a text per language with placeholders (``{customer_name}``, ``{model}`` …)
filled from the ticket when the agent picks it; the agent then edits it freely. A macro is a text
and a move (``release``, ``resolve`` …): the reply goes out first, then the move, each through
the message bus, so the declaration still decides whether this agent may make it here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflow.domain.states import TRIGGERS

LANGUAGES = ("en", "fr")
#: what a text may name, filled from the ticket (``placeholders_of``) and the agent
PLACEHOLDERS = ("customer_name", "company", "model", "serial", "firmware", "method", "tool",
                "reference", "agent")
TOOLS = {"sadp": "SADP", "ivms4200": "iVMS-4200", "local_gui": "the recorder's local menu"}
_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Canned:
    name: str
    title: str
    texts: Mapping[str, str]

    def text(self, language: str) -> str:
        return self.texts.get(language) or self.texts["en"]


@dataclass(frozen=True)
class Macro(Canned):
    #: the trigger fired after the reply
    move: str = ""
    #: the audited reason of the move (the agent may change it)
    reason: str = ""


@dataclass(frozen=True)
class CannedLibrary:
    replies: Mapping[str, Canned]
    macros: Mapping[str, Macro]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CannedLibrary:
        """``ValueError`` naming what is wrong (an unknown placeholder or move, a missing
        language), so a bad file stops the desk at start rather than an agent mid-reply."""
        replies = {name: Canned(name, *_texts(name, spec))
                   for name, spec in dict(data.get("replies", {})).items()}
        macros = {}
        for name, spec in dict(data.get("macros", {})).items():
            move = str(spec.get("move", ""))
            if move not in TRIGGERS:
                raise ValueError(f"macro {name}: move {move!r} is no trigger of the declaration")
            macros[name] = Macro(name, *_texts(name, spec), move=move,
                                 reason=str(spec.get("reason", "")))
        return cls(replies, macros)


def _texts(name: str, spec: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    texts = {lang: str(spec[lang]).strip() for lang in LANGUAGES if lang in spec}
    missing = [lang for lang in LANGUAGES if not texts.get(lang)]
    if missing:
        raise ValueError(f"{name}: no text in {', '.join(missing)}")
    for text in texts.values():
        unknown = sorted(set(_FIELD.findall(text)) - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"{name}: unknown placeholder(s) {', '.join(unknown)}")
    return str(spec.get("title", name)), texts


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each known placeholder replaced once (a value that itself looks like a
    placeholder stays as it is); a placeholder without a value becomes an empty string."""
    return _FIELD.sub(lambda m: values.get(m[1], "") if m[1] in PLACEHOLDERS else m[0], text)


def _part(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def placeholders_of(data: Mapping[str, Any], reference: str, agent: str) -> dict[str, str]:
    """The placeholder values of a ticket's request data (empty once anonymised)."""
    requester, device = _part(data, "requester"), _part(data, "device")
    method = str(data.get("reset_method") or "")
    return {"customer_name": str(requester.get("name") or ""),
            "company": str(requester.get("company") or ""),
            "model": str(device.get("model_number") or ""),
            "serial": str(device.get("serial_number") or ""),
            "firmware": str(device.get("firmware_version") or ""),
            "method": method, "tool": TOOLS.get(method, method),
            "reference": reference, "agent": agent}
