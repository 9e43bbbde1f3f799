"""The vendored front-end files are the ones the README names (digest for digest), and every
asset path the console links to is one of them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from console import assets

VENDOR = Path(__file__).resolve().parents[2] / "console" / "static" / "vendor"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \|.*\| `(?P<sha>[0-9a-f]{64})` \|$", re.MULTILINE)


def readme_digests() -> dict[str, str]:
    return {m["file"]: m["sha"] for m in ROW.finditer((VENDOR / "README.md").read_text())}


def test_each_vendored_file_matches_the_digest_in_the_readme() -> None:
    listed = readme_digests()
    assert len(listed) == 4
    for name, sha in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha, name


def test_the_pages_link_only_to_vendored_files_listed_in_the_readme() -> None:
    listed = readme_digests()
    for url in (assets.HTMX, assets.SWAGGER_JS, assets.SWAGGER_CSS, assets.SWAGGER_FAVICON):
        assert url.startswith(assets.VENDOR + "/")
        assert url.removeprefix(assets.VENDOR + "/") in listed, url


def test_every_licence_file_the_readme_names_is_there() -> None:
    text = (VENDOR / "README.md").read_text()
    for name in re.findall(r"`([\w.-]+LICENSE[\w.-]*|[\w.-]+NOTICE[\w.-]*)`", text):
        assert (VENDOR / name).is_file(), name
