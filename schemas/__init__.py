"""ResetDesk message contracts: CloudEvents 1.0 envelopes with versioned, strict payloads.

Imports pydantic and the standard library only, so producers can vendor it.
"""

from schemas.envelope import InboundEvent
from schemas.errors import Code, ContractError
from schemas.events_v1 import EVENT_TYPES, build_event
from schemas.registry import INBOUND_TYPES, decode, decode_amqp, decode_binary, decode_structured
from schemas.requests_v1 import REQUEST_SUBMITTED_V1, RequestSubmittedV1

__all__ = [
    "EVENT_TYPES",
    "INBOUND_TYPES",
    "REQUEST_SUBMITTED_V1",
    "Code",
    "ContractError",
    "InboundEvent",
    "RequestSubmittedV1",
    "build_event",
    "decode",
    "decode_amqp",
    "decode_binary",
    "decode_structured",
]
