"""What commands share: the common options, option values checked as the command line
is parsed (dates, countries, text), JSON output, and the empty-library notice."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.cli.context import AppContext
from bot.jsonable import to_jsonable

__all__ = [
    "COUNTRY_HELP",
    "EMPTY_LIBRARY",
    "check_country",
    "check_window",
    "common_options",
    "country_value",
    "day_value",
    "echo_json",
    "end_value",
    "library_is_empty",
    "llm_option",
    "parse_date_option",
    "parse_day_option",
    "start_value",
    "text_value",
]

F = TypeVar("F", bound=Callable[..., Any])


llm_option = click.option(
    "--llm/--no-llm",
    "use_llm",
    default=None,
    help="Have the configured language model write it (every sentence checked against "
    "its sources) [default: the config's llm.enabled].",
)


def common_options(command: F) -> F:
    """--config and --data-dir on every command, after the command name too."""
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="GEOBOT_DATA_DIR",
        help="Where the knowledge base lives [env: GEOBOT_DATA_DIR].",
    )(command)
    command = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="GEOBOT_CONFIG",
        help="Configuration file (TOML) [env: GEOBOT_CONFIG].",
    )(command)
    return command


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def parse_day_option(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD)") from None


def parse_date_option(value: str | None, *, end: bool = False) -> datetime | None:
    """A --since/--until value: YYYY-MM-DD (or a full ISO time). --until is inclusive."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD)") from None
    if end and len(value) <= 10:
        parsed = parsed.replace(hour=23, minute=59, second=59)
    return parsed


# Option callbacks: click reports a bad value as a usage error naming the option, while
# the command line is parsed, long before any model loads.
def day_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    return parse_day_option(value)


def start_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    return parse_date_option(value)


def end_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    return parse_date_option(value, end=True)


def text_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A question, query or topic: blank text can match nothing."""
    if value is not None and not value.strip():
        raise click.BadParameter("it is empty")
    return value


def check_window(since: date | None, until: date | None) -> None:
    """--since after --until can match nothing: say so instead of searching."""
    if since is not None and until is not None and since > until:
        raise click.UsageError(
            f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}: no date is in both"
        )


COUNTRY_HELP = "Only articles from outlets of this country (ISO code, e.g. GB)."


def check_country(value: str | None) -> str | None:
    from index.sources.outlets import country_code

    if value is None:
        return None
    code = country_code(value)
    if code is None:
        raise click.BadParameter(f"{value!r} is not a two-letter country code such as GB")
    return code


def country_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    return check_country(value)


EMPTY_LIBRARY = (
    "The library is empty (no articles in {data_dir}). Add articles with "
    "`geobot ingest PATH_OR_URL...`, or follow a news feed with `geobot feeds add URL` "
    "then `geobot feeds poll`."
)


def library_is_empty(app: AppContext) -> bool:
    """True, having said so on stderr with how to fill it, when the library holds no
    articles. Stdout is left to the command, so that --json output stays JSON."""
    if app.article_count():
        return False
    data_dir = app.config.resolved_data_dir().expanduser()
    click.echo(EMPTY_LIBRARY.format(data_dir=data_dir), err=True)
    return True
