"""Dates spelt out for customers in English and French, without relying on the host's locales
(a server's locale is whatever its image ships; a customer's email must not depend on it)."""

from __future__ import annotations

from datetime import date

_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")


def long_date(day: date, language: str) -> str:
    """``Monday, March 2, 2026`` or ``lundi 2 mars 2026`` (``1er`` for the first of a month)."""
    if language == "fr":
        nth = "1er" if day.day == 1 else str(day.day)
        return f"{_FR_DAYS[day.weekday()]} {nth} {_FR_MONTHS[day.month - 1]} {day.year}"
    return f"{_EN_DAYS[day.weekday()]}, {_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"
