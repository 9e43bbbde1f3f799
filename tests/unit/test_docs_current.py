from pathlib import Path

from workflow.domain.diagram import document

ROOT = Path(__file__).resolve().parents[2]


def test_state_diagram_in_docs_matches_the_transitions_table() -> None:
    committed = (ROOT / "docs" / "state-machine.md").read_text(encoding="utf-8")
    assert committed == document(), "docs/state-machine.md is stale: run `resetdesk docs diagram`"


def test_diagram_names_every_state_and_trigger() -> None:
    from workflow.domain.states import TRIGGERS, State

    text = document()
    for state in State:
        assert state.value in text
    for trigger in TRIGGERS:
        assert trigger in text
