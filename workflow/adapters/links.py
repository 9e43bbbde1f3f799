"""Moved to ``workflow.service.links`` (signing is pure computation, no I/O); kept for old imports."""

from workflow.service.links import InvalidLink, LinkClaim, sign, verify

__all__ = ["InvalidLink", "LinkClaim", "sign", "verify"]
