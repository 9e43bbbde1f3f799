"""What became of a message refused before the inbox (read only)."""

from workflow.adapters.refusals import Refusal, lookup

__all__ = ["Refusal", "lookup"]
