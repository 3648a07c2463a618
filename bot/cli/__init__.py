"""`geobot`: the command line front end, one module per command group.

`cli` is the root group and `main` the console entry point (``geobot =
"bot.cli:main"``); `AppContext` is what a command runs with (tests pass one, with a fake
embedder, as the root group's `obj`).
"""

from bot.cli.app import cli, main
from bot.cli.context import AppContext

__all__ = ["AppContext", "cli", "main"]
