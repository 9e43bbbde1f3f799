"""Canned replies and macros: the packaged file loads and speaks every language, placeholders
are filled once from the ticket, and a bad file is refused with what is wrong."""

from __future__ import annotations

import pytest

from workflow.adapters.queries.canned import canned_library
from workflow.domain.canned_replies import LANGUAGES, CannedLibrary, fill, placeholders_of
from workflow.domain.states import TRIGGERS

DATA = {"requester": {"name": "Élodie Roy", "company": "Roy Sécurité"},
        "device": {"model_number": "DS-7608NI-I2/8P", "serial_number": "{reference}",
                   "firmware_version": "V4.62"},
        "reset_method": "sadp"}


def test_the_packaged_library_has_every_text_in_every_language() -> None:
    library = canned_library()
    assert library.replies and library.macros
    for item in (*library.replies.values(), *library.macros.values()):
        assert all(item.text(lang) for lang in LANGUAGES), item.name
    assert all(m.move in TRIGGERS for m in library.macros.values())


def test_placeholders_are_filled_once_and_unknown_braces_stay() -> None:
    values = placeholders_of(DATA, "RD-AAAA-BBBB", "ada")
    text = "Hi {customer_name} ({company}): {model}, {serial}, {tool} {firmware}; {reference} {agent} {x}"
    assert fill(text, values) == ("Hi Élodie Roy (Roy Sécurité): DS-7608NI-I2/8P, {reference}, "
                                  "SADP V4.62; RD-AAAA-BBBB ada {x}")
    assert fill("{customer_name}", placeholders_of({}, "RD-1", "ada")) == ""  # anonymised


@pytest.mark.parametrize(("data", "error"), [
    ({"replies": {"a": {"en": "hi"}}}, "a: no text in fr"),
    ({"replies": {"a": {"en": "{nam}", "fr": "x"}}}, "a: unknown placeholder"),
    ({"macros": {"m": {"en": "x", "fr": "y", "move": "explode"}}}, "is no trigger"),
])
def test_a_bad_library_is_refused_with_the_reason(data: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        CannedLibrary.from_mapping(data)
