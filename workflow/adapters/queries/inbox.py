"""Where a producer's message stands (read only): its status."""

from workflow.adapters.inbox import ContentConflict, InboxKey, InboxStatus, Recorded, status

__all__ = ["ContentConflict", "InboxKey", "InboxStatus", "Recorded", "status"]
