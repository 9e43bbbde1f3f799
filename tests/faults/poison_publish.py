"""Publish poison messages with py-amqp from a process of their own: ``python -m
tests.faults.poison_publish URL`` reads a JSON list of messages on stdin.

Its own process because encoding a header table nested ~26,000 deep takes a recursion limit
(py-amqp's encoder recurses twice per level) that, raised in the test's process, would also let
the consumers under test decode it: the test would no longer prove that they raise it themselves.

Each message: ``{"exchange", "key", "body_b64", "props"}``; in ``props.application_headers`` a
value ``{"$nested": n}`` stands for n arrays nested in each other, innermost empty, and
``{"$bytes": base64}`` for a byte string (a property's value too).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from typing import Any

import amqp
from kombu.connection import Connection


def nested_arrays(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _value(v: Any) -> Any:
    if isinstance(v, dict) and "$nested" in v:
        return nested_arrays(v["$nested"])
    if isinstance(v, dict) and "$bytes" in v:
        return base64.b64decode(v["$bytes"])
    return v


def _headers(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in spec.items()}


def publish(url: str, messages: list[dict[str, Any]]) -> None:
    info = Connection(url)
    conn = amqp.Connection(host=info.host, userid=info.userid, password=info.password,
                           virtual_host=info.virtual_host, confirm_publish=True)
    conn.connect()
    try:
        channel = conn.channel()
        for m in messages:
            props = {k: _value(v) for k, v in m["props"].items()}
            if "application_headers" in props:
                props["application_headers"] = _headers(props["application_headers"])
            channel.basic_publish(amqp.Message(base64.b64decode(m["body_b64"]), delivery_mode=2,
                                               **props),
                                  exchange=m["exchange"], routing_key=m["key"], mandatory=True)
    finally:
        conn.close()


def main() -> None:
    url, messages = sys.argv[1], json.load(sys.stdin)
    sys.setrecursionlimit(100_000)
    threading.stack_size(256 * 1024 * 1024)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            publish(url, messages)
        except BaseException as err:
            failed.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise SystemExit(f"publish failed: {failed[0]!r}")


if __name__ == "__main__":
    main()
