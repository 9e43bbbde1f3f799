"""The composition root: the only place that builds and wires every part."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from resetdesk.settings import Settings
from workflow.adapters.db import Database, open_database
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.service.ports import Clock, SystemClock


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def db(self) -> Database:
        return open_database(self.settings.resolved_database_url())

    def uow(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, read_only=read_only)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> App:
    app = App(settings or Settings())
    if clock is not None:
        app.clock = clock
    return app
