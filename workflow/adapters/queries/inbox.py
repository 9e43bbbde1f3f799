"""Where a producer's message stands (read only): its status, or the earlier answer to a replay."""

from workflow.adapters.inbox import ContentConflict, InboxKey, InboxStatus, Recorded, peek, status

__all__ = ["ContentConflict", "InboxKey", "InboxStatus", "Recorded", "peek", "status"]
