"""Who is calling: producer and agent look-ups for authentication (read only)."""

from workflow.adapters.accounts import (
    Producer,
    agent_role,
    check_agent_password,
    list_producers,
    producer_by_name,
    producer_for_token,
)
from workflow.adapters.agent_sessions import agent_for, staff_for

__all__ = ["Producer", "agent_for", "agent_role", "check_agent_password", "list_producers",
           "producer_by_name", "producer_for_token", "staff_for"]
