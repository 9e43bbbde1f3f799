"""The canned replies and macros the reply box offers (``workflow/data/canned_replies.toml``),
read once per process."""

from __future__ import annotations

import tomllib
from functools import cache

from workflow.adapters.rules_file import packaged_data
from workflow.domain.canned_replies import CannedLibrary

CANNED_FILE = "canned_replies.toml"


@cache
def canned_library() -> CannedLibrary:
    source = packaged_data(CANNED_FILE)
    try:
        return CannedLibrary.from_mapping(tomllib.loads(source.read_text(encoding="utf-8")))
    except ValueError as err:
        raise ValueError(f"{CANNED_FILE}: {err}") from err
