"""RabbitMQ for the integration tests: a vhost of this test run (``rd_<RUN_ID>``), its users, and
small helpers. Everything made here is deleted at the end of the session.

Users: ``guest`` (administrator) gets the vhost, for declaring and inspecting; a consumer user with
the ``impersonator`` tag (it republishes copies that keep the producer's ``user_id``); producer
users made on demand, allowed to write to ``resetdesk.requests`` only — as in production.

Use it from a test module with ``from tests.rabbit import rabbit  # noqa: F401`` (a fixture).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from tests import services
from tests.waiting import wait_for


@dataclass
class Rabbit:
    vhost: str
    consumer_user: str
    consumer_password: str
    users: list[str] = field(default_factory=list)

    def url(self, user: str = "guest", password: str = "guest") -> str:
        return (f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{services.AMQP_HOST}:"
                f"{services.AMQP_PORT}/{quote(self.vhost, safe='')}")

    @property
    def admin_url(self) -> str:
        return self.url()

    @property
    def consumer_url(self) -> str:
        return self.url(self.consumer_user, self.consumer_password)

    def add_user(self, name: str, *, tags: str = "", configure: str = "^$", write: str = "^$",
                 read: str = "^$") -> str:
        """A RabbitMQ user with rights in this vhost only; returns its password."""
        user = f"rd_{services.RUN_ID}_{name}"
        password = secrets.token_hex(12)
        services.rabbitmqctl("add_user", user, password)
        self.users.append(user)
        if tags:
            services.rabbitmqctl("set_user_tags", user, tags)
        services.rabbitmqctl("set_permissions", "-p", self.vhost, user, configure, write, read)
        return password

    def producer(self, name: str) -> tuple[str, str]:
        """(user, password) of a form producer: may publish to ``resetdesk.requests``, nothing else."""
        password = self.add_user(name, write=r"^resetdesk\.requests$")
        return f"rd_{services.RUN_ID}_{name}", password

    def channel_do(self, action: Callable[[Any], Any]) -> Any:
        """Run ``action(channel)`` on a fresh guest connection."""
        with pika.BlockingConnection(pika.URLParameters(self.admin_url)) as conn:
            return action(conn.channel())

    def purge(self, *queues: str) -> None:
        def purge_one(name: str) -> Callable[[Any], Any]:
            return lambda ch: ch.queue_purge(name)

        for name in queues:
            with contextlib.suppress(ChannelClosedByBroker):  # not declared: nothing to purge
                self.channel_do(purge_one(name))

    def depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (unacked ones are not counted)."""
        return int(self.channel_do(
            lambda ch: ch.queue_declare(queue, passive=True)).method.message_count)

    def get(self, queue: str, timeout: float = 10.0) -> tuple[Any, bytes]:
        """Take one message (properties, body) from ``queue``, waiting up to ``timeout``."""
        def taken() -> Any:
            got = self.channel_do(lambda ch: ch.basic_get(queue, auto_ack=True))
            return got if got[0] is not None else None
        got = wait_for(f"a message in {queue}", taken, timeout, every=0.1)
        return got[1], got[2]


@pytest.fixture(scope="session")
def rabbit() -> Iterator[Rabbit]:
    services.require_rabbitmq()
    vhost = f"rd_{services.RUN_ID}"
    services.rabbitmqctl("add_vhost", vhost)
    made = Rabbit(vhost, f"rd_{services.RUN_ID}_consumer", "")
    try:
        services.rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        made.consumer_password = made.add_user("consumer", tags="impersonator", configure=".*",
                                               write=".*", read=".*")
        yield made
    finally:
        services.rabbitmqctl("delete_vhost", vhost, check=False)
        for user in made.users:
            services.rabbitmqctl("delete_user", user, check=False)
