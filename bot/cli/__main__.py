"""`python -m bot.cli`: the same as the `geobot` command."""

from bot.cli.app import main

main()
