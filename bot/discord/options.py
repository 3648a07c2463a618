"""Slash command options shared by several commands: their descriptions and parsing.

Parsing raises `UserError` with a message that says what a valid value looks like.
"""

from __future__ import annotations

from datetime import date

from bot.discord.errors import UserError
from index.sources.outlets import country_code

__all__ = ["COUNTRY_HELP", "OUTLET_HELP", "parse_country", "parse_day", "parse_outlet"]

OUTLET_HELP = "Only sources from this outlet, e.g. Reuters (start typing its name)"
COUNTRY_HELP = "Only sources from outlets of this country: a two-letter code, e.g. GB"


def parse_country(value: str | None) -> str | None:
    """A two-letter ISO country code, upper-cased, or None when not given."""
    if value is None or not value.strip():
        return None
    code = country_code(value)
    if code is None:
        raise UserError("`country` must be a two-letter country code such as GB.")
    return code


def parse_outlet(value: str | None) -> str | None:
    """An outlet name on one line, or None when not given."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"`{name}` must be a date like 2024-04-12.") from None
