"""One log scope per HTTP request (:mod:`workflow.logcontext`): what a request learns (the
event id at intake, the ticket an agent acts on) names its log lines and ends with it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from workflow.logcontext import log_context


class LogScope:
    """Pure ASGI (no response buffering); the scope is copied into the threads sync routes run
    in, so ids bound there stay with their request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with log_context():
            await self.app(scope, receive, send)
