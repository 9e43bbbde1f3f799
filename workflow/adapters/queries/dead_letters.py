"""Dead-letter listing and showing (read only; replay and discard change rows elsewhere)."""

from workflow.adapters.dead_letters import (
    STATUSES,
    DeadLetter,
    get,
    json_object,
    list_dead_letters,
    masked_payload,
    show,
    subject_of,
)

__all__ = ["STATUSES", "DeadLetter", "get", "json_object", "list_dead_letters", "masked_payload", "show",
           "subject_of"]
