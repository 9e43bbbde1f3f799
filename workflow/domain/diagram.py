"""The mermaid state diagram, generated from the transitions table (docs/state-machine.md)."""

from __future__ import annotations

from workflow.domain.states import TRANSITIONS, TRIGGERS, State, actors_of, command_of


def _node(state: State) -> str:
    return state.name.lower()


def mermaid() -> str:
    lines = ["stateDiagram-v2"]
    for state in State:
        lines.append(f"    {_node(state)} : {state.value}")
    lines.append(f"    [*] --> {_node(State.SUBMITTED)}")
    seen: set[tuple[str, str, str]] = set()
    for move in TRANSITIONS:
        for source in move.source:
            dest = move.dest or source
            label = move.trigger + (f" [{', '.join(move.guards)}]" if move.guards else "")
            key = (_node(source), _node(dest), label)
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"    {key[0]} --> {key[1]} : {label}")
    lines.append(f"    {_node(State.CLOSED)} --> [*]")
    return "\n".join(lines) + "\n"


def _carried(trigger: str) -> str:
    """The command that carries ``trigger``; per actor kind when the kinds' commands differ."""
    by_kind = {k: command_of(trigger, k) for k in dict.fromkeys(
        a.partition(":")[0] for a in actors_of(trigger))}
    generic = "`tickets act` / `POST …/{trigger}`"
    if len(set(by_kind.values())) <= 1:
        return command_of(trigger) or generic
    shown = {command: [k for k, c in by_kind.items() if c == command]
             for command in dict.fromkeys(by_kind.values())}
    return "; ".join(f"{c or generic} ({', '.join(kinds)})" for c, kinds in shown.items())


def who_may() -> str:
    """The declaration's actors per trigger, and the command that carries a dedicated move."""
    rows = ["| trigger | who may fire it | carried by |", "|---|---|---|"]
    for trigger in TRIGGERS:
        rows.append(f"| `{trigger}` | {', '.join(actors_of(trigger))} | {_carried(trigger)} |")
    return "\n".join(rows) + "\n"


def document() -> str:
    return (
        "# Ticket state machine\n\n"
        "Generated from `workflow/domain/states.py` by `resetdesk docs diagram`; a test fails when "
        "this file is stale. Self-loops are internal moves: the state stays, the ticket's fields "
        "change (assignee, `waiting_on`, first reply).\n\n"
        "```mermaid\n" + mermaid() + "```\n\n"
        "## Who may fire what\n\n"
        "The message bus refuses any other actor (HTTP 403); a move carried by a dedicated "
        "command cannot be fired through the generic one.\n\n" + who_may()
    )
