"""The bot's configuration: the knowledge base settings plus answering (and, later,
Discord and feeds), in the same TOML file, validated the same strict way."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from index.config import Config, ConfigSection

__all__ = ["AnswerConfig", "BotConfig", "DiscordConfig", "LLMConfig", "StateConfig"]


class AnswerConfig(ConfigSection):
    word_budget: int = Field(
        default=70,
        ge=10,
        le=1000,
        description="longest answer, in words, under its short answer line (the quoted "
        "sentences; the written answer's limit too)",
    )
    candidates: int = Field(
        default=40, ge=5, le=500, description="passages retrieved before diversity"
    )
    passages: int = Field(
        default=10, ge=1, le=50, description="passages kept (after diversity) to answer from"
    )
    mmr_lambda: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="maximal marginal relevance: 1 ranks by relevance alone, lower favours "
        "passages unlike those already chosen",
    )
    duplicate_similarity: float = Field(
        default=0.95,
        ge=0.5,
        le=1.0,
        description="passages at least this similar (cosine) to a chosen one are copies",
    )
    min_relevance: float = Field(
        default=0.15,
        ge=-1.0,
        le=1.0,
        description="decline when no passage is at least this similar (cosine) to the "
        "question, and use only passages this similar in topic summaries",
    )
    min_confidence: float = Field(
        default=0.47,
        ge=0.0,
        le=1.0,
        description="decline when the answer's confidence is lower: how well the best "
        "sentence matches the question (half the closest passage's similarity, half the "
        "share of the question the best sentence covers), plus a bonus for a short answer "
        "outlets agree on, minus a penalty when the question asks for a kind of thing none "
        "of which was found; chosen on the RealTimeQA dev set (bench/calibrate_decline.py, "
        "docs/evaluation.md)",
    )
    min_short_answer_vote: float = Field(
        default=0.5,
        ge=0.0,
        description="open the answer with a short answer (a name, place, number or date) "
        "only when its vote across sources is at least this: each outlet stating it adds "
        "up to 1, by how well its sentence matches the question, its rank and its date",
    )
    window_boost: float = Field(
        default=0.25, ge=0.0, description="score bonus for sources inside the question's dates"
    )
    recency_weight: float = Field(
        default=2.0,
        ge=0.0,
        description="score bonus of a source published on the as-of day (doubled for "
        "'latest'/'current'); it halves every recency_half_life_days",
    )
    recency_half_life_days: float = Field(
        default=14.0, gt=0.0, description="age at which the recency bonus halves"
    )
    summary_sentences: int = Field(default=5, ge=1, le=20)
    summary_word_budget: int = Field(default=180, ge=20, le=2000)


class LLMConfig(ConfigSection):
    """An OpenAI-compatible server (llama.cpp, Ollama, vLLM) that writes answers.

    Off by default: answers are then the extractive quotes. The API key, when the server
    wants one, is read from the environment variable named by `api_key_env`, never from
    this file.
    """

    enabled: bool = Field(
        default=False, description="write answers with the model (`geobot ask --llm` too)"
    )
    base_url: str = Field(
        default="http://127.0.0.1:8080/v1",
        pattern=r"^https?://",
        description="the server's OpenAI API root; POSTs go to BASE_URL/chat/completions "
        "(llama.cpp server: http://127.0.0.1:8080/v1, Ollama: http://127.0.0.1:11434/v1)",
    )
    model: str = Field(default="local", min_length=1, description="the model name to ask for")
    api_key_env: str = Field(
        default="OPENAI_API_KEY",
        description="environment variable holding the API key, sent as a Bearer token when set",
    )
    timeout_seconds: float = Field(default=60.0, gt=0.0, le=600.0)
    max_tokens: int = Field(default=400, ge=16, le=8192)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    min_support: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="drop a written sentence unless this share of its content words "
        "occurs in the passages it cites (every name, figure and date in it must, and it "
        "may not add or drop a negation)",
    )


class DiscordConfig(ConfigSection):
    """The Discord front end. The token is never read from here: only `DISCORD_TOKEN`."""

    dev_guild_id: int | None = Field(
        default=None,
        description="sync commands to this server only, instantly (for development); "
        "unset: sync globally (Discord may take up to an hour to show changes)",
    )
    allowed_channel_ids: list[int] = Field(
        default_factory=list,
        description="answer only in these channels (and threads in them); empty: everywhere",
    )
    cooldown_seconds: float = Field(
        default=10.0, ge=0.0, description="per-user pause between questions; 0 turns it off"
    )
    follow_ups: Literal["thread", "inline"] = Field(
        default="thread",
        description="where a mention's answer and its follow-ups go: a new thread per "
        "question, or inline replies in the channel",
    )
    workers: int = Field(
        default=4, ge=1, le=64, description="threads answering questions off the event loop"
    )
    message_content: bool = Field(
        default=True,
        description="request Discord's privileged Message Content intent (enable it in the "
        "developer portal too), so that follow-ups written in the bot's threads are read "
        "without a mention; off: mentions, DMs and replies that ping the bot still work",
    )
    stream_edit_seconds: float = Field(
        default=1.0,
        ge=1.0,
        le=60.0,
        description="with [llm] on, a written answer is shown as it is written: its "
        "message is edited at most once every this many seconds (Discord's rate limits)",
    )
    sources_page_size: int = Field(default=10, ge=1, le=25)
    guild_ready_timeout: float = Field(default=2.0, ge=0.0)
    shards: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = Field(
        default=1,
        description='gateway connections (shards): 1 for most bots; more, or "auto" '
        "(as many as Discord recommends), runs one process as discord.py's "
        "AutoShardedClient (Discord requires sharding from 2,500 servers)",
    )
    shard_ids: tuple[int, ...] | None = Field(
        default=None,
        description="with `shards` a count: the shards this process runs, e.g. [0, 1, 2, 3] "
        "of shards = 8, another process running [4, 5, 6, 7]; processes that split the "
        "shards share one [state] database (PostgreSQL) and one knowledge base (Milvus); "
        "unset: this process runs them all; `geobot bot --shards 0-3/8` overrides both "
        "shards and shard_ids",
    )
    poll_feeds: bool = Field(
        default=True,
        description="poll the feeds in the background while the bot runs, each every "
        "[feeds] poll_interval_minutes; off: only `/feeds poll` and `geobot feeds poll`",
    )

    @model_validator(mode="after")
    def _shard_ids_within_shards(self) -> DiscordConfig:
        if self.shard_ids is None:
            return self
        if self.shards == "auto":
            raise ValueError("shard_ids needs shards to be a count, not 'auto'")
        if not self.shard_ids or len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError("shard_ids must list each shard of this process once")
        if not all(0 <= i < self.shards for i in self.shard_ids):
            raise ValueError(f"shard_ids must be between 0 and {self.shards - 1} (shards - 1)")
        return self


class StateConfig(ConfigSection):
    """Where the bot keeps its records (answers behind buttons, feedback, each server's
    settings and briefing, the command-sync hash): `bot.sqlite3` in the data folder, or
    one PostgreSQL database that several bot processes (shards) share.

    The password is never read from this file: put it in the environment variable named
    by `password_env` (PGPASSWORD by default), or in the URL given as GEOBOT_STATE__URL;
    it is never logged.
    """

    backend: Literal["sqlite", "postgres"] = Field(
        default="sqlite",
        description="'sqlite' (bot.sqlite3 in the data folder, the default) or 'postgres' "
        "(one database shared by every bot process; needs geobot[postgres] and `url`)",
    )
    url: str = Field(
        default="",
        repr=False,
        description="with backend = 'postgres': the database, as a libpq URL such as "
        "'postgresql://geobot@db.example:5432/geobot' (no password here)",
    )
    password_env: str = Field(
        default="PGPASSWORD",
        min_length=1,
        description="the environment variable holding the database password, when the "
        "server asks for one (default: libpq's own PGPASSWORD; ~/.pgpass works too); not "
        "a GEOBOT_ name, which would be read as a setting",
    )
    connect_timeout_s: int = Field(default=10, ge=1, le=300)

    @field_validator("password_env")
    @classmethod
    def _not_a_setting(cls, name: str) -> str:
        if name.upper().startswith("GEOBOT_"):
            raise ValueError(
                f"password_env {name!r}: a GEOBOT_ variable is read as a setting; "
                "name another one (e.g. PGPASSWORD)"
            )
        return name

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> StateConfig:
        if self.backend == "postgres" and not self.url.strip():
            raise ValueError(
                "[state] backend = 'postgres' needs url (e.g. "
                "'postgresql://geobot@db.example:5432/geobot', or GEOBOT_STATE__URL)"
            )
        return self


class BotConfig(Config):
    answers: AnswerConfig = AnswerConfig()
    llm: LLMConfig = LLMConfig()
    discord: DiscordConfig = DiscordConfig()
    state: StateConfig = StateConfig()
