"""The broker's queues for the ops pages: RabbitMQ's management HTTP API when it answers (depth,
ready, unacknowledged, consumers, consumer utilisation, publish and deliver rates), passive
declares otherwise (ready messages and consumers only). Nothing here takes a message off a
queue: ``basic.get`` would charge the quorum queue's ``x-delivery-limit``, so the age of a
broker queue's oldest message stays unknown ("n/a")."""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from kombu.connection import Connection

from consumers.topology import CONSUMER_QUEUES, UNROUTED
from workflow.service.ops_ports import MANAGEMENT, PASSIVE, BrokerReport, QueueFigures

log = logging.getLogger(__name__)

TIMEOUT = 3.0
COLUMNS = ("name,messages,messages_ready,messages_unacknowledged,consumers,"
           "consumer_utilisation,consumer_capacity,message_stats")


def queue_names() -> list[str]:
    """The queues the desk consumes, and where unrouted events wait."""
    return [*CONSUMER_QUEUES, str(UNROUTED.name)]


def dead_letter_names() -> dict[str, str]:
    return {q.dlq_name: q.name for q in CONSUMER_QUEUES.values()}


def management_base(broker_url: str, management_url: str | None) -> str | None:
    """The API's base URL with credentials, from the setting or the broker URL's host and
    user; None when the setting says ``off``."""
    if management_url == "off":
        return None
    amqp = urlsplit(first_url(broker_url))
    if management_url:
        return management_url.rstrip("/")
    user = quote(unquote(amqp.username or "guest"), safe="")
    password = quote(unquote(amqp.password or "guest"), safe="")
    return f"http://{user}:{password}@{amqp.hostname or 'localhost'}:15672"


def first_url(broker_url: str) -> str:
    """A cluster's URL lists its nodes separated by ``;`` (kombu's failover syntax)."""
    return broker_url.split(";", 1)[0]


def vhost_of(broker_url: str) -> str:
    path = urlsplit(first_url(broker_url)).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _rate(stats: dict[str, Any], key: str) -> float | None:
    details = stats.get(f"{key}_details")
    return float(details["rate"]) if isinstance(details, dict) and "rate" in details else None


def from_management(base: str, vhost: str) -> BrokerReport:
    url = f"{base}/api/queues/{quote(vhost, safe='')}"
    answer = httpx.get(url, params={"columns": COLUMNS, "disable_stats": "false"},
                       timeout=TIMEOUT)
    answer.raise_for_status()
    found = {q["name"]: q for q in answer.json()}
    dead = {name: int(found.get(name, {}).get("messages") or 0) for name in dead_letter_names()}
    queues = []
    for name in queue_names():
        q = found.get(name)
        if q is None:
            continue
        stats = q.get("message_stats") or {}
        util = q.get("consumer_utilisation", q.get("consumer_capacity"))
        dlq = next((d for d, main in dead_letter_names().items() if main == name), None)
        queues.append(QueueFigures(
            name=name, source=MANAGEMENT, depth=int(q.get("messages") or 0),
            ready=int(q.get("messages_ready") or 0),
            unacked=int(q.get("messages_unacknowledged") or 0),
            consumers=int(q.get("consumers") or 0),
            utilisation=float(util) if isinstance(util, int | float) else None,
            publish_rate=_rate(stats, "publish") or 0.0,
            deliver_rate=_rate(stats, "deliver_get") or 0.0,
            dead_letters=dead.get(dlq) if dlq else None))
    return BrokerReport(MANAGEMENT, tuple(queues), dead_letter_queues=dead)


def from_passive_declares(broker_url: str) -> BrokerReport:
    """``queue.declare(passive=True)``: ready messages and consumers, nothing else."""
    with Connection(broker_url, connect_timeout=TIMEOUT, transport_options={
            "max_retries": 0}) as conn:
        def declared(name: str) -> tuple[int, int] | None:
            channel = conn.channel()  # a refused declare (no such queue) closes its channel
            try:
                ok = channel.queue_declare(name, passive=True)
            except Exception:
                return None
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
            return int(ok.message_count), int(ok.consumer_count)

        dead = {d: (declared(d) or (0, 0))[0] for d in dead_letter_names()}
        queues = []
        for name in queue_names():
            got = declared(name)
            if got is None:
                continue
            dlq = next((d for d, main in dead_letter_names().items() if main == name), None)
            queues.append(QueueFigures(name=name, source=PASSIVE, depth=got[0], ready=got[0],
                                       consumers=got[1],
                                       dead_letters=dead.get(dlq) if dlq else None))
    return BrokerReport(PASSIVE, tuple(queues), dead_letter_queues=dead)


def broker_report(broker_url: str, management_url: str | None = None) -> BrokerReport:
    """The management API's figures, else the passive declares', else the error."""
    base = management_base(broker_url, management_url)
    problem = None
    if base is not None:
        try:
            return from_management(base, vhost_of(broker_url))
        except (httpx.HTTPError, ValueError, KeyError) as err:
            problem = f"management API: {type(err).__name__}"
            log.debug("management API unavailable, passive declares instead: %s", err)
    try:
        report = from_passive_declares(broker_url)
    except Exception as err:
        return BrokerReport(PASSIVE, error=f"broker unreachable: {type(err).__name__}: {err}"[:300])
    return BrokerReport(report.source, report.queues, problem, report.dead_letter_queues)
