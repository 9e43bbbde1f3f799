"""The data directory's own record of where the running ResetDesk answers.

``up`` writes ``resetdesk.json`` beside the database; every other command reads it, so a hint
printed by ``up`` and a link written by a shell command (send-key, callback) reach the port
``up`` listens on, not a default one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

INSTANCE_FILE = "resetdesk.json"
_WILDCARD = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class Instance:
    #: base of every link written into emails and pages
    public_url: str
    #: what a command on this machine uses to reach the intake (``publish``)
    local_url: str
    host: str
    port: int


def http_url(host: str, port: int) -> str:
    """A URL for a bind address; a wildcard bind is reached through loopback."""
    if host in _WILDCARD:
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def is_wildcard(host: str) -> bool:
    return host in _WILDCARD


def write(data_dir: Path, instance: Instance) -> Path:
    """Replace the record atomically (a reader never sees half a file)."""
    path = data_dir / INSTANCE_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(instance), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read(data_dir: Path) -> Instance | None:
    """The record, or None when there is none or it cannot be read (then callers derive)."""
    try:
        raw = json.loads((data_dir / INSTANCE_FILE).read_text(encoding="utf-8"))
        return Instance(public_url=str(raw["public_url"]), local_url=str(raw["local_url"]),
                        host=str(raw["host"]), port=int(raw["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
