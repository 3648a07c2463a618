"""The Discord front end.

- `app`: the client (`GeobotClient`, `build_client`): lifecycle, the answer pool and the
  quick pool, feed poller; `choices`: what autocomplete offers, kept in memory;
  `command_sync`: syncing the commands only when they changed
- `commands/`: the slash commands, one module per group: `answering` (/ask /summary
  /search /sources /help), `library` (/ingest /remove /stats), `feeds` (/feeds ...),
  `status`, `settings`, `feedback` (/feedback export), `briefing` (/briefing ...)
- `server_settings`: each server's settings in effect; `briefings`: the daily briefing
  scheduler, drawn by `briefing_render`; `server_messages`: /status and /settings texts
- `buttons`: the buttons under answers and /sources; `conversations`: mentions, DMs and
  follow-ups in threads and replies
- `tree` (the command tree and its one error handler), `errors`, `checks`, `options`,
  `autocomplete`, `cooldowns`: the small pieces commands share; `client_api`: what of the
  client they may use
- `render` (embeds within Discord's limits), `answer_pieces`, `text` (safe text), and
  `messages` (the bot's own short texts): pure functions
- `runner`: start, signals, clean shutdown; `backend`: what the bot answers with
"""

from bot.discord.app import GeobotClient, build_client
from bot.discord.backend import Backend

__all__ = ["Backend", "GeobotClient", "build_client"]
