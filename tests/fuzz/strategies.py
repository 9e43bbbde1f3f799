"""Hypothesis strategies for one HTTP request to one route: path, query, headers and a body that
is sometimes well-formed (known field names, genuine tokens, real slots) and often not (any
JSON, deep nesting, invalid UTF-8, wrong content types, multipart).

Values are drawn by parameter or field name: a genuine value from the ``World`` or garbage.
A new route is fuzzed with these generic strategies without any change here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from schemas.sample import sample_request
from tests.fuzz.world import World, path_params
from workflow.domain.reset_keys import KINDS
from workflow.domain.states import State

TEXT = st.text(max_size=40)
WEIRD = st.sampled_from(["", " ", "\x00", "%00", "..", "9999-12-31", "-1", "1e999", "null",
                         "99999999999999999999999", "\udcff".encode("utf-8", "surrogatepass")
                         .decode("latin-1"), "RD-", "a" * 300, "é", "\u202e"])
GARBAGE = st.one_of(TEXT, WEIRD)
INTS = st.one_of(st.integers(-5, 5), st.integers(), st.integers(-(2**80), 2**80))
OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.one_of(
    st.datetimes(timezones=OFFSETS).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                     "9999-12-31T23:59:59+00:00", "2026-11-24T09:00:00-08:00"]))
DATES = st.one_of(st.dates().map(str), st.sampled_from(["9999-12-31", "0001-01-01", "2026-11-25"]))
WINDOWS = st.one_of(
    st.builds(lambda d, a, b: f"{d} {a}:00-{b}:30", DATES, st.integers(0, 23), st.integers(0, 24)),
    st.sampled_from(["9999-12-31 23:00-23:59", "0001-01-01 00:00-00:30", "2026-11-25 09:00-11:00"]))
FIELDS = ("slot", "preferred", "kind", "text", "expected_version", "reason", "take_over",
          "message", "body", "login", "password", "reference", "code", "consent_token",
          "terms_version", "decision", "result", "note", "resolved", "description")
CONTENT_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=xyz", "multipart/form-data",
                                 "text/plain", "application/cloudevents+json", "", "\x7f/\x80"])


@dataclass
class Req:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    content: bytes | None = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


def _genuine(values: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(values) if values else GARBAGE


def vocabulary(w: World) -> dict[str, st.SearchStrategy[Any]]:
    """Genuine (or near-genuine) values by parameter or field name; built once per world."""
    tokens = w.tokens + w.session_tokens + w.consent_tokens
    return {
        "ticket_id": _genuine(w.ticket_ids + w.references + [r.lower() for r in w.references]),
        "token": _genuine(tokens), "consent_token": _genuine(w.consent_tokens + tokens),
        "trigger": st.sampled_from(["claim", "release", "resolve", "abandon", "reopen", "reply",
                                    "send_key", "verify", "nonsense"]),
        "step_id": INTS.map(str), "event_id": _genuine(w.event_ids),
        "slot": st.one_of(_genuine(w.slots), INSTANTS), "preferred": WINDOWS, "day": DATES,
        "kind": st.sampled_from([*KINDS, "other"]), "expected_version": st.one_of(INTS, st.none()),
        "limit": INTS.map(str), "state": st.sampled_from([s.value for s in State]),
        "sort": st.sampled_from(["due", "created", "updated", "x"]),
        "lang": st.sampled_from(["en", "fr", "de"]),
        "reference": _genuine(w.references), "code": _genuine(w.codes),
        "terms_version": _genuine(w.terms_versions), "login": st.just("alice"),
        "password": st.sampled_from(["alice-password-123", "wrong"]),
        "decision": st.sampled_from(["confirmed", "declined"]),
        "result": st.sampled_from(["answered", "no_answer", "wrong_number", "asked_to_move"]),
        "resolved": st.booleans(), "take_over": st.booleans(),
    }


def value_for(name: str, vocab: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A value for a parameter or field called ``name``: genuine, near-genuine or garbage."""
    if name == "format":
        return st.just("json")
    genuine = vocab.get(name, TEXT)
    return st.one_of(genuine, genuine, GARBAGE)


JSON_LEAVES = st.one_of(st.none(), st.booleans(), INTS, st.floats(), TEXT)
ANY_JSON = st.recursive(JSON_LEAVES, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(TEXT, kids, max_size=4)), max_leaves=12)


def _fields(vocab: dict[str, st.SearchStrategy[Any]],
            names: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={n: value_for(n, vocab) for n in names})


def _deep(n: int, kind: str) -> bytes:
    return (b'{"a":' * n + b"1" + b"}" * n) if kind == "obj" else b"[" * n + b"]" * n


def _event(leaf: Any, top: str, inner: str | None) -> bytes:
    """A genuine request event with one field replaced (the rest stays valid)."""
    event = sample_request()
    event["source"] = "urn:fuzz"
    if inner is None:
        event[top] = leaf
    else:
        event["data"][inner] = leaf
    return json.dumps(event, default=str).encode()


EVENTS = st.builds(_event, st.one_of(JSON_LEAVES, ANY_JSON, INSTANTS), st.sampled_from(
    ["id", "time", "type", "specversion", "datacontenttype", "data"]),
    st.one_of(st.none(), st.sampled_from(list(sample_request()["data"]))))


def bodies(vocab: dict[str, st.SearchStrategy[Any]],
           names: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``TestClient.request``: one body of any kind (or none)."""
    fields = _fields(vocab, names)
    as_json = st.one_of(fields, ANY_JSON).map(
        lambda v: {"content": json.dumps(v, default=str).encode(), "ctype": "application/json"})
    as_form = fields.map(lambda v: {"data": {k: str(v[k]) for k in v}})
    multipart = st.builds(
        lambda f, blob, name, ctype: {"data": {k: str(v) for k, v in f.items()},
                                      "files": {"file": (name, blob, ctype)}},
        fields, st.binary(max_size=64), TEXT, st.sampled_from(["application/octet-stream", ""]))
    raw = st.builds(lambda b, c: {"content": b, "ctype": c}, st.binary(max_size=200), CONTENT_TYPES)
    deep = st.builds(lambda n, k, c: {"content": _deep(n, k), "ctype": c},
                     st.sampled_from([40, 1100, 5000]), st.sampled_from(["obj", "list"]),
                     st.sampled_from(["application/json", "application/cloudevents+json"]))
    bad_utf8 = st.builds(lambda k, c: {"content": k.encode() + b"=\xff\xfe%ff", "ctype": c},
                         st.sampled_from(names or ("x",)), CONTENT_TYPES)
    events = EVENTS.map(lambda b: {"content": b, "ctype": "application/cloudevents+json"})
    return st.one_of(st.just({}), as_json, as_json, as_form, multipart, raw, deep, bad_utf8,
                     events)


def requests(method: str, path: str, w: World, query: tuple[str, ...],
             body_fields: tuple[str, ...]) -> st.SearchStrategy[Req]:
    """Requests to ``method path``; ``query`` and ``body_fields`` name what the route reads.
    Every strategy is built here once (building them per draw costs more than the request)."""
    vocab = vocabulary(w)
    segments = {n: value_for(n, vocab).map(lambda v: quote(str(v), safe=""))
                for n in path_params(path)}
    names = (*query, "day", "format", "lang", "x")
    query_pairs = st.lists(st.sampled_from(names).flatmap(
        lambda n: value_for(n, vocab).map(lambda v: (n, str(v)))), max_size=4)
    auth = st.sampled_from([w.agent, w.agent, w.agent, w.producer, {},
                            {"Authorization": "Bearer "}, {"Authorization": "Bearer rda_x"},
                            {"Authorization": "Basic x"}])
    session = st.one_of(st.none(), _genuine(w.session_tokens), _genuine(w.tokens), TEXT)
    accept = st.sampled_from([None, "application/json", "text/html", "*/*"])
    body = bodies(vocab, body_fields) if method in ("POST", "PUT", "PATCH") else st.just({})

    @st.composite
    def one(draw: st.DrawFn) -> Req:
        url = path
        for name, segment in segments.items():
            url = url.replace("{" + name + "}", draw(segment))
        headers = dict(draw(auth))
        token = draw(session)
        if token is not None:
            headers["X-Session-Token"] = "".join(c for c in token if " " <= c <= "~")
        if (kind := draw(accept)) is not None:
            headers["Accept"] = kind
        kwargs = dict(draw(body))
        if "ctype" in kwargs:
            headers["Content-Type"] = kwargs.pop("ctype")
        return Req(method, url, draw(query_pairs), headers, **kwargs)

    return one()
