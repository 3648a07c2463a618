"""How the command line reports errors: each in one line on stderr, usage errors (an
unknown command or option, a missing argument, a bad value) with exit status 2, library
errors with exit status 1."""

from __future__ import annotations

from typing import Any

import click

from bot.cli.rendering import terminal_safe
from index import GeobotError

__all__ = ["GeobotGroup", "OneLineUsageError", "one_line", "raise_in_one_line"]


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line, "Error: ...; see 'geobot ask --help'", instead of
    Click's usage block; it keeps Click's exit status 2."""

    def __init__(self, line: str, ctx: click.Context | None) -> None:
        super().__init__(line, ctx)
        self.line = line

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {terminal_safe(self.line)}", file=file, err=file is None)


def one_line(error: click.UsageError, ctx: click.Context) -> OneLineUsageError:
    """`error` as one line: its message, Click's "did you mean" in brackets, where to look."""
    # NoSuchOption and NoSuchCommand keep their close matches apart from the message.
    possibilities = getattr(error, "possibilities", None) or []
    message = (error.message if possibilities else error.format_message()).strip().rstrip(".")
    if message[:2].istitle():
        message = message[0].lower() + message[1:]
    if possibilities:
        quoted = [f"'{p}'" for p in possibilities]
        choices = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        message += f" (did you mean {choices}?)"
    where = error.ctx or ctx
    return OneLineUsageError(f"{message}; see '{where.command_path} --help'", where)


# Click 8.2+ shows a bare group's help (`geobot feeds`) by raising this usage error, and
# the whole help is the point there; older Click prints it and exits.
_HELP_ERRORS: tuple[type[click.UsageError], ...] = tuple(
    getattr(click.exceptions, name)
    for name in ("NoArgsIsHelpError",)
    if hasattr(click.exceptions, name)
)


def raise_in_one_line(error: click.UsageError, ctx: click.Context | None) -> None:
    """Raise `error` again as a OneLineUsageError, unless it already is one (from a
    sub-group) or it shows a group's help."""
    where = error.ctx or ctx
    if isinstance(error, (OneLineUsageError, *_HELP_ERRORS)) or where is None:
        return
    raise one_line(error, where) from error


class GeobotGroup(click.Group):
    """Shows a usage error as one line (exit status 2), and turns a library error into
    Click's one-line "Error: ..." and exit status 1, for its commands and sub-groups."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise_in_one_line(exc, parent)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise_in_one_line(exc, ctx)
            raise
        except GeobotError as exc:
            # The message may name a URL, a file or a feed's text: nothing that can drive
            # the terminal, and still one line.
            raise click.ClickException(" ".join(terminal_safe(str(exc)).split())) from exc
