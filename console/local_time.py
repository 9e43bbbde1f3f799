"""Times on the customer pages: the server's words (Pacific time, and the customer's own zone
when the request named one) inside ``<time datetime="…">``, which ``static/local-time.js``
completes with the time on the reader's device. Without script the server's words stand alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
from markupsafe import Markup, escape

from workflow.domain.wording import PACIFIC, customer_time, instant

#: what the script puts before the device's time, per page language (French spaces its colon)
DEVICE_LABEL = {"en": "on this device: ", "fr": "sur cet appareil : "}


def _instant(at: datetime | str) -> datetime:
    if isinstance(at, str):
        return instant(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def time_tag(at: datetime | str, text: str, lang: str = "en") -> Markup:
    """``text`` (escaped) in a ``<time>`` element the script completes with the device's time."""
    iso = _instant(at).astimezone(UTC).isoformat().replace("+00:00", "Z")
    label = DEVICE_LABEL.get(lang, DEVICE_LABEL["en"])
    return Markup('<time datetime="{}" data-local-time data-local-label="{}">{}</time>').format(
        iso, label, escape(text))


def local_time(at: datetime | str | None, lang: str, time_zone: str | None = None) -> Markup:
    """A moment as a customer reads it, for a page (empty when there is none)."""
    if at is None or at == "":
        return Markup("")
    return time_tag(at, customer_time(_instant(at), lang, time_zone, PACIFIC), lang)


def install(environment: jinja2.Environment) -> None:
    """Offer ``local_time(at, lang, zone)`` and ``time_tag(at, text, lang)`` to the templates."""
    environment.globals["local_time"] = local_time
    environment.globals["time_tag"] = time_tag
