"""A fake Discord (gateway + REST v10) for the real, unpatched discord.py client.

The server runs on 127.0.0.1 in a background thread with its own event loop, so the
bot under test keeps the test's loop to itself. Everything shared between the two
threads (state, recordings) is guarded by one lock; tests wait by polling.

It speaks just enough Discord for a bot: login, the gateway handshake up to READY and
GUILD_CREATE, heartbeats, command sync, interactions and their webhooks, messages,
typing, reactions, threads and DMs. Every payload the bot sends is checked against
Discord's limits and this project's policies (see ``rules.py``); what breaks a rule is
recorded as a :class:`Breach`, and what Discord itself would refuse is refused the
same way (status and JSON error code), so the bot sees what it would see in prod.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from . import rules
from .objects import (
    APP_FLAG_BY_INTENT,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM_PERMISSIONS,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    PRIVILEGED_INTENTS,
    THREAD_TYPES,
    ChannelType,
    FakeGuild,
    Intent,
    Permission,
    Snowflakes,
    attachment_object,
    dm_channel_object,
    member_object,
    message_object,
    role_mention_ids,
    role_object,
    text_channel_object,
    thread_object,
    user_mention_ids,
    user_object,
)
from .records import (
    DEFAULT_TIMEOUT,
    Action,
    ActionStream,
    Breach,
    InteractionHandle,
    MessageHandle,
    Request,
    UploadedFile,
    wait_until,
)

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API = "/api/v10"

# Where the middleware leaves the parsed body and uploaded files for the handlers.
BODY: web.RequestKey[Any] = web.RequestKey("body")
FILES: web.RequestKey[list[UploadedFile]] = web.RequestKey("files")

# Interaction types (what Discord sends) and callback types (what the bot answers).
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE = 1, 4, 5
DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = 6, 7, 8, 9
ALLOWED_CALLBACKS = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
    },
}

# Option types of application commands.
OPT_SUB_COMMAND, OPT_GROUP, OPT_STRING, OPT_INTEGER, OPT_BOOLEAN = 1, 2, 3, 4, 5
OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE, OPT_NUMBER, OPT_ATTACHMENT = (
    6,
    7,
    8,
    9,
    10,
    11,
)

MESSAGE_TYPE_DEFAULT, MESSAGE_TYPE_REPLY, MESSAGE_TYPE_CHAT_INPUT = 0, 19, 20


class NotConnected(RuntimeError):
    """An event was injected while no bot is connected and READY."""


@dataclass(eq=False)  # identity semantics: connections live in a set
class _Connection:
    ws: web.WebSocketResponse
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sequence: int = 0
    intents: int = 0
    identify: JSON | None = None
    ready: bool = False
    heartbeats: int = 0
    shard: tuple[int, int] = (0, 1)  # [shard_id, num_shards] from IDENTIFY
    guild_ids: tuple[str, ...] = ()  # the guilds its READY announced


@dataclass
class _Interaction:
    id: str
    token: str
    type: int
    payload: JSON
    channel_id: str
    guild_id: str | None
    sent_at: float = 0.0
    callback_type: int | None = None
    original_id: str | None = None  # the message "@original" names
    loading: bool = False  # a deferred response still shows "thinking"
    message_ids: set[str] = field(default_factory=set)


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    body: JSON
    headers: dict[str, str]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py decodes JSON only when content-type is exactly "application/json":
    # aiohttp's json_response would add "; charset=utf-8", so set the header by hand.
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _files(request: web.Request) -> list[UploadedFile]:
    return request[FILES]


def _no_content() -> web.Response:
    return web.Response(status=204)


def _id_of(obj: Any) -> str:
    """Accept an id (str/int) or any Discord object dict; a member resolves to its user."""
    if isinstance(obj, dict):
        if "user" in obj and "id" not in obj:
            return str(obj["user"]["id"])
        return str(obj["id"])
    return str(obj)


class FakeDiscord:
    """A local Discord for one test. See the package docstring for the API tour."""

    def __init__(
        self,
        *,
        token: str = "fake-token",
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        heartbeat_interval_ms: int = 41250,
        enabled_privileged_intents: int = int(PRIVILEGED_INTENTS),
        echo_own_messages: bool = True,
        max_bot_messages: int = 500,
        attachment_size_limit: int = 10 * 1024 * 1024,
        gateway_shards: int = 1,
        default_world: bool = True,
    ) -> None:
        # Settings are plain attributes so a test can change them on the fixture.
        self.token = token
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.enabled_privileged_intents = enabled_privileged_intents
        self.echo_own_messages = echo_own_messages
        self.max_bot_messages = max_bot_messages
        self.attachment_size_limit = attachment_size_limit
        # What GET /gateway/bot recommends; a client may still IDENTIFY with any count.
        self.gateway_shards = gateway_shards

        self.ids = Snowflakes()
        self._lock = threading.RLock()
        self._actions: list[Action] = []
        self._requests: list[Request] = []
        self._breaches: list[Breach] = []
        self._faults: list[_Fault] = []

        self.users: dict[str, JSON] = {}
        self.guilds: dict[str, FakeGuild] = {}
        self.dm_channels: dict[str, JSON] = {}
        self._dm_by_user: dict[str, str] = {}
        self.messages: dict[str, JSON] = {}
        self._history: dict[str, list[str]] = {}
        self._files: dict[str, tuple[str, bytes, str | None]] = {}
        self._interactions: dict[str, _Interaction] = {}
        self._by_token: dict[str, _Interaction] = {}
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[str, list[JSON]] = {}
        self.presence: JSON | None = None
        self.heartbeats_acked = 0
        self.identifies = 0
        self._bot_messages_sent = 0

        self._conn: _Connection | None = None
        self._connections: set[_Connection] = set()
        self._shards: dict[int, _Connection] = {}  # shard id -> its READY connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.port = 0

        self.application_id = self.ids.next()
        self.bot_user = self.add_user("geobot", bot=True)
        self.app_owner = self.add_user("app-owner")
        if default_world:
            self._build_default_world()

    # --- world -------------------------------------------------------------------------

    def _build_default_world(self) -> None:
        """One guild with an owner, an admin (MANAGE_GUILD), a plain member and the bot;
        two text channels, a thread, and a DM channel with the plain member."""
        owner = self.add_user("owner")
        self.guild = self.add_guild("Test Guild", owner=owner)
        self.admin_role = self.add_role(self.guild, "Admin", Permission.MANAGE_GUILD)
        self.channel = self.add_text_channel(self.guild, "general", topic="General chat")
        self.other_channel = self.add_text_channel(self.guild, "news")
        self.owner = self.guild.members[owner["id"]]
        self.admin = self.add_member(self.guild, self.add_user("alice"), roles=[self.admin_role])
        self.member = self.add_member(self.guild, self.add_user("bob"))
        self.thread = self.add_thread(self.channel, "discussion", owner=self.member)
        self.dm = self.dm_channel(self.member)

    def _ensure_offline(self, what: str) -> None:
        # Adding guilds/channels after READY would need CHANNEL_CREATE & co; the tests
        # do not need that, so fail loudly instead of silently desyncing the bot.
        if self._conn is not None:
            raise RuntimeError(f"add {what} before the client connects")

    def add_user(self, username: str, *, bot: bool = False) -> JSON:
        with self._lock:
            user = user_object(self.ids.next(), username, bot=bot)
            self.users[user["id"]] = user
            return user

    def add_guild(
        self, name: str, *, owner: JSON | None = None, shard: tuple[int, int] | None = None
    ) -> FakeGuild:
        """A guild with an @everyone role, the bot as a member with its managed role.

        ``shard=(shard_id, num_shards)`` picks an id that a bot with that many shards
        receives on that shard."""
        self._ensure_offline("guilds")
        with self._lock:
            owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
            guild_id = self.ids.next_on_shard(*shard) if shard else self.ids.next()
            guild = FakeGuild(id=guild_id, name=name, owner_id=owner["id"])
            guild.roles[guild.id] = role_object(guild.id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS)
            self.guilds[guild.id] = guild
            bot_role = role_object(
                self.ids.next(),
                self.bot_user["username"],
                DEFAULT_BOT_PERMISSIONS,
                position=1,
                bot_id=self.bot_user["id"],
            )
            guild.roles[bot_role["id"]] = bot_role
            guild.members[owner["id"]] = member_object(owner, [])
            guild.members[self.bot_user["id"]] = member_object(self.bot_user, [bot_role["id"]])
            return guild

    def add_role(self, guild: FakeGuild, name: str, permissions: int) -> JSON:
        self._ensure_offline("roles")
        with self._lock:
            role = role_object(self.ids.next(), name, permissions, position=len(guild.roles))
            guild.roles[role["id"]] = role
            return role

    def add_text_channel(
        self,
        guild: FakeGuild,
        name: str,
        *,
        topic: str | None = None,
        permission_overwrites: list[JSON] | None = None,
    ) -> JSON:
        """A text channel. Overwrites are Discord's {id, type (0 role, 1 member), allow, deny}."""
        self._ensure_offline("channels")
        with self._lock:
            channel = text_channel_object(
                self.ids.next(),
                guild.id,
                name,
                position=len(guild.channels),
                topic=topic,
                permission_overwrites=permission_overwrites,
            )
            guild.channels[channel["id"]] = channel
            return channel

    def add_thread(
        self, channel: JSON, name: str, *, owner: Any = None, private: bool = False
    ) -> JSON:
        self._ensure_offline("threads")
        with self._lock:
            guild = self.guilds[channel["guild_id"]]
            owner_id = _id_of(owner) if owner is not None else guild.owner_id
            thread = thread_object(
                self.ids.next(), guild.id, channel["id"], owner_id, name, private=private
            )
            guild.threads[thread["id"]] = thread
            return thread

    def add_member(self, guild: FakeGuild, user: JSON, *, roles: Iterable[Any] = ()) -> JSON:
        """Make ``user`` a member of ``guild`` (allowed any time: no event is sent)."""
        with self._lock:
            member = member_object(user, [_id_of(r) for r in roles])
            guild.members[user["id"]] = member
            return member

    def dm_channel(self, user: Any) -> JSON:
        """The DM channel between the bot and ``user`` (created on first use)."""
        with self._lock:
            user_json = self.users[_id_of(user)]
            existing = self._dm_by_user.get(user_json["id"])
            if existing is not None:
                return self.dm_channels[existing]
            channel = dm_channel_object(self.ids.next(), user_json)
            self.dm_channels[channel["id"]] = channel
            self._dm_by_user[user_json["id"]] = channel["id"]
            return channel

    def add_attachment(self, filename: str, data: bytes, content_type: str | None = None) -> JSON:
        """Register bytes served at the returned attachment's ``url`` (for uploads by users)."""
        if not self.port:
            raise RuntimeError("start() the fake first: attachment URLs include its port")
        with self._lock:
            attachment_id = self.ids.next()
            self._files[attachment_id] = (filename, data, content_type)
            return attachment_object(
                attachment_id,
                filename,
                len(data),
                f"{self.http_url}/attachments/{attachment_id}/{filename}",
                content_type=content_type,
            )

    def _channel(self, channel_id: str) -> tuple[JSON, FakeGuild | None] | None:
        with self._lock:
            if channel_id in self.dm_channels:
                return self.dm_channels[channel_id], None
            for guild in self.guilds.values():
                if channel_id in guild.channels:
                    return guild.channels[channel_id], guild
                if channel_id in guild.threads:
                    return guild.threads[channel_id], guild
            return None

    def _require_channel(self, channel: Any) -> tuple[JSON, FakeGuild | None]:
        found = self._channel(_id_of(channel))
        if found is None:
            raise ValueError(f"unknown channel {_id_of(channel)}")
        return found

    def bot_permissions(self, channel: JSON) -> int:
        found = self._require_channel(channel)
        guild = found[1]
        if guild is None:
            return int(DM_PERMISSIONS)
        return guild.channel_permissions(self.bot_user["id"], found[0])

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What discord.http.Route.BASE must be set to."""
        return f"{self.http_url}{API}"

    @property
    def gateway_url(self) -> str:
        """What DiscordWebSocket.DEFAULT_GATEWAY must be set to."""
        return f"ws://127.0.0.1:{self.port}/"

    def start(self) -> FakeDiscord:
        self._thread = threading.Thread(target=self._serve, name="fake-discord", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("fake Discord did not start within 10s")
        if self._start_error is not None:
            raise RuntimeError("fake Discord failed to start") from self._start_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        # Stopping must never mask the test's own outcome.
        with suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:
            self._start_error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app.router)
        # shutdown_timeout: never wait long on connections at teardown.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        for conn in list(self._connections):
            await conn.ws.close(code=1001, message=b"fake Discord is shutting down")
        if self._runner is not None:
            await self._runner.cleanup()

    async def _on_server(self, coro: Awaitable[Any], timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Run ``coro`` on the server's loop from the test's loop and await its result."""
        assert self._loop is not None, "call start() first"

        async def wrapper() -> Any:
            return await coro

        future = asyncio.run_coroutine_threadsafe(wrapper(), self._loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    # --- recordings and breaches ---------------------------------------------------------

    @property
    def actions(self) -> list[Action]:
        with self._lock:
            return list(self._actions)

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def breaches(self) -> list[Breach]:
        with self._lock:
            return list(self._breaches)

    def breach(self, rule: str, message: str, request: web.Request | None = None) -> Breach:
        found = Breach(
            rule,
            message,
            request.method if request is not None else "",
            request.path if request is not None else "",
        )
        with self._lock:
            self._breaches.append(found)
        return found

    def take_breaches(self, rule: str | None = None) -> list[Breach]:
        """Remove and return the breaches whose rule starts with ``rule`` (all if None)."""
        with self._lock:
            taken = [b for b in self._breaches if rule is None or b.rule.startswith(rule)]
            self._breaches = [b for b in self._breaches if b not in taken]
            return taken

    def clear_breaches(self) -> None:
        self.take_breaches()

    async def expect_breach(self, rule: str, *, timeout: float = DEFAULT_TIMEOUT) -> Breach:
        """Wait for a breach whose rule starts with ``rule``; remove it (it was expected)."""

        def find() -> Breach | None:
            with self._lock:
                for breach in self._breaches:
                    if breach.rule.startswith(rule):
                        self._breaches.remove(breach)
                        return breach
            return None

        try:
            found: Breach = await wait_until(find, timeout=timeout, what=f"breach {rule!r}")
        except TimeoutError as exc:
            exc.args = (f"{exc.args[0]}; breaches so far: {self.breaches}",)
            raise
        return found

    def assert_no_breaches(self) -> None:
        breaches = self.breaches
        if breaches:
            lines = "\n".join(f"  - {b}" for b in breaches)
            raise AssertionError(f"the bot broke {len(breaches)} Discord rule(s):\n{lines}")

    def _record(self, action: Action) -> Action:
        with self._lock:
            self._actions.append(action)
        return action

    def _finish(self, action: Action, response: web.Response) -> web.Response:
        # Actions are recorded once their outcome is known, so a waiting test never
        # reads an action whose status is about to change.
        action.status = response.status
        self._record(action)
        return response

    def stream(self, predicate: Callable[[Action], bool], label: str = "actions") -> ActionStream:
        """A cursor (``next()``/``expect_nothing()``) over actions matching ``predicate``."""
        return ActionStream(self, predicate, label)

    def channel_actions(self, channel: Any) -> ActionStream:
        channel_id = _id_of(channel)
        return self.stream(lambda a: a.channel_id == channel_id, f"channel {channel_id}")

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int = 500,
        count: int = 1,
        retry_after: float = 0.05,
        code: int = 0,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching REST requests with an error instead.

        ``path_pattern`` is a regex searched in the path after ``/api/v10``. A 429 comes
        with the ``Via`` header (discord.py only retries 429s that carry it) and
        ``retry_after``. Injected failures are not breaches.
        """
        if status == 429:
            body: JSON = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": False,
            }
            headers = {
                "Via": "1.1 google",
                "X-RateLimit-Scope": "user",
                "Retry-After": str(max(1, round(retry_after))),
            }
        else:
            body = {"message": message or f"{status}: injected failure", "code": code}
            headers = {}
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_pattern), status, count, body, headers)
            )

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*") and fault.pattern.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def original_message(self, token: str) -> JSON | None:
        with self._lock:
            state = self._by_token.get(token)
            if state is None or state.original_id is None:
                return None
            message = self.messages.get(state.original_id)
            return copy.deepcopy(message) if message is not None else None

    def channel_history(self, channel: Any) -> list[JSON]:
        """Messages in a channel, oldest first (ephemeral ones are not in history)."""
        with self._lock:
            ids = self._history.get(_id_of(channel), [])
            return [copy.deepcopy(self.messages[i]) for i in ids if i in self.messages]

    # --- HTTP plumbing ---------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/" and request.method == "GET":
            return await handler(request)  # the gateway
        try:
            body, files = await self._read_body(request)
        except ValueError as exc:  # malformed JSON (json.JSONDecodeError is a ValueError)
            self.breach("rest.bad_body", f"unparseable request body: {exc}", request)
            return _json({"message": "The request body contains invalid JSON.", "code": 50109}, 400)
        request[BODY] = body
        request[FILES] = files
        api_path = request.path.removeprefix(API)
        fault = self._take_fault(request.method, api_path)
        response: web.StreamResponse
        if fault is not None:
            response = _json(fault.body, fault.status, fault.headers)
        elif self._needs_bot_auth(request) and request.headers.get("Authorization") != (
            f"Bot {self.token}"
        ):
            self.breach(
                "rest.unauthorized", "missing or wrong 'Authorization: Bot <token>'", request
            )
            response = _json({"message": "401: Unauthorized", "code": 0}, 401)
        else:
            try:
                response = await handler(request)
            except Exception:
                # A bug in the fake must fail the test, not hang it: 400 (a 5xx would make
                # discord.py retry with back-off) and a breach carrying the traceback.
                self.breach("fake.internal_error", traceback.format_exc(), request)
                response = _json({"message": "fake Discord internal error", "code": 0}, 400)
        with self._lock:
            self._requests.append(
                Request(
                    request.method,
                    api_path,
                    dict(request.query),
                    body,
                    tuple(files),
                    response.status,
                    time.monotonic(),
                )
            )
        return response

    @staticmethod
    def _needs_bot_auth(request: web.Request) -> bool:
        # Interaction callbacks and webhooks are authorised by their token in the URL;
        # attachments are CDN downloads.
        path = request.path
        return path.startswith(API) and not path.startswith(
            (f"{API}/interactions/", f"{API}/webhooks/", "/attachments/")
        )

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        files: list[UploadedFile] = []
        if not request.body_exists:
            return None, files
        if request.content_type == "multipart/form-data":
            payload: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                elif part.filename is not None:
                    data = bytes(await part.read(decode=False))
                    ctype = part.headers.get("Content-Type")
                    files.append(UploadedFile(part.name or "", part.filename, data, ctype))
                else:
                    # Other plain form fields are not used by discord.py; keep them visible.
                    payload = payload or {}
                    payload[part.name or ""] = await part.text()
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        if request.content_type == "application/json":
            return json.loads(raw), files
        return raw.decode(errors="replace"), files

    def _error(
        self,
        request: web.Request,
        status: int,
        code: int,
        message: str,
        rule: str,
        detail: str | None = None,
        *,
        body: JSON | None = None,
    ) -> web.Response:
        """A Discord-style error answer, recorded as a breach: the bot did something
        Discord refuses, which a passing test should never see unless it expects it."""
        self.breach(rule, detail or message, request)
        return _json(body or {"message": message, "code": code}, status)

    def _reject(self, request: web.Request, violations: list[rules.Violation]) -> web.Response:
        for violation in violations:
            self.breach(violation.rule, violation.message, request)
        return _json(rules.form_errors([v for v in violations if v.enforced]), 400)

    def _note(self, request: web.Request, violations: list[rules.Violation]) -> bool:
        """Record every violation; True if Discord would reject the request."""
        for violation in violations:
            if not violation.enforced:
                self.breach(violation.rule, violation.message, request)
        return any(v.enforced for v in violations)

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        r = router
        r.add_get("/", self._gateway)
        r.add_get(API + "/gateway", self._get_gateway)
        r.add_get(API + "/gateway/bot", self._get_gateway_bot)
        r.add_get(API + "/users/@me", self._get_me)
        r.add_get(API + "/oauth2/applications/@me", self._get_application)
        r.add_get(API + "/applications/@me", self._get_application)
        r.add_post(API + "/users/@me/channels", self._create_dm)
        r.add_get(API + "/users/{user_id}", self._get_user)
        # Application commands, global and per guild.
        for base in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            r.add_get(API + base + "/commands", self._list_commands)
            r.add_put(API + base + "/commands", self._put_commands)
            r.add_post(API + base + "/commands", self._post_command)
            r.add_get(API + base + "/commands/{command_id}", self._get_command)
            r.add_delete(API + base + "/commands/{command_id}", self._delete_command)
        # Interactions and their webhooks.
        r.add_post(API + "/interactions/{interaction_id}/{token}/callback", self._callback)
        r.add_post(API + "/webhooks/{app_id}/{token}", self._followup)
        r.add_get(API + "/webhooks/{app_id}/{token}/messages/{message_id}", self._get_webhook_msg)
        r.add_patch(
            API + "/webhooks/{app_id}/{token}/messages/{message_id}", self._edit_webhook_msg
        )
        r.add_delete(
            API + "/webhooks/{app_id}/{token}/messages/{message_id}", self._delete_webhook_msg
        )
        # Guilds.
        r.add_get(API + "/guilds/{guild_id}", self._get_guild)
        r.add_get(API + "/guilds/{guild_id}/channels", self._get_guild_channels)
        r.add_get(API + "/guilds/{guild_id}/members/{user_id}", self._get_member)
        # Channels and messages.
        channel = API + "/channels/{channel_id}"
        r.add_get(channel, self._get_channel)
        r.add_get(channel + "/messages", self._list_messages)
        r.add_post(channel + "/messages", self._create_message)
        r.add_get(channel + "/messages/{message_id}", self._get_message)
        r.add_patch(channel + "/messages/{message_id}", self._edit_message)
        r.add_delete(channel + "/messages/{message_id}", self._delete_message)
        r.add_post(channel + "/typing", self._typing)
        r.add_put(channel + "/messages/{message_id}/reactions/{emoji}/@me", self._add_reaction)
        r.add_delete(
            channel + "/messages/{message_id}/reactions/{emoji}/@me", self._remove_reaction
        )
        r.add_post(channel + "/messages/{message_id}/threads", self._thread_from_message)
        r.add_post(channel + "/threads", self._create_thread)
        # CDN-style attachment downloads.
        r.add_get("/attachments/{attachment_id}/{filename}", self._get_attachment)
        r.add_get("/attachments/{attachment_id}", self._get_attachment)
        # Everything else: Discord's 404, and a breach so the test notices.
        r.add_route("*", "/{tail:.*}", self._unknown_route)

    async def _unknown_route(self, request: web.Request) -> web.Response:
        return self._error(
            request,
            404,
            0,
            "404: Not Found",
            "rest.unknown_route",
            f"the fake does not implement {request.method} {request.path}",
        )

    # --- gateway -----------------------------------------------------------------------------

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": self.gateway_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        if not ws.can_prepare(request).ok:
            return self._error(request, 400, 0, "expected a websocket", "gateway.not_websocket")
        if request.query.get("v") != "10" or request.query.get("encoding", "json") != "json":
            self.breach(
                "gateway.query", f"gateway query {dict(request.query)} is not v=10&encoding=json"
            )
        # A "compress=zlib-stream" query is fine to ignore: discord.py only inflates
        # binary frames and parses text frames as plain JSON.
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        try:
            await self._send(
                conn, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(conn)
            if self._shards.get(conn.shard[0]) is conn:
                del self._shards[conn.shard[0]]
            if self._conn is conn:
                self._conn = next(iter(self._shards.values()), None)
        return ws

    async def _send(self, conn: _Connection, payload: JSON) -> None:
        async with conn.lock:
            if payload.get("op") == 0:
                conn.sequence += 1
                payload = {**payload, "s": conn.sequence}
            await conn.ws.send_str(json.dumps(payload))

    async def _on_gateway_message(self, conn: _Connection, payload: JSON) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:  # HEARTBEAT
            conn.heartbeats += 1
            with self._lock:
                self.heartbeats_acked += 1
            await self._send(conn, {"op": 11})
        elif op == 2:  # IDENTIFY
            await self._identify(conn, data or {})
        elif op == 3:  # PRESENCE_UPDATE
            self.presence = data
        elif op == 6:  # RESUME: sessions are not kept, so ask for a fresh IDENTIFY.
            await self._send(conn, {"op": 9, "d": False})
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            guild = self.guilds.get(str((data or {}).get("guild_id")))
            if guild is not None:
                chunk: JSON = {
                    "guild_id": guild.id,
                    "members": list(guild.members.values()),
                    "chunk_index": 0,
                    "chunk_count": 1,
                }
                if (data or {}).get("nonce") is not None:
                    chunk["nonce"] = data["nonce"]  # type: ignore[index]
                await self._send(conn, {"op": 0, "t": "GUILD_MEMBERS_CHUNK", "d": chunk})

    async def _identify(self, conn: _Connection, data: JSON) -> None:
        if data.get("token") != self.token:
            self.breach("gateway.auth", "IDENTIFY with a wrong token")
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if "intents" not in data:
            self.breach("gateway.intents", "IDENTIFY without intents (required by v10)")
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        shard = data.get("shard", [0, 1])
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            self.breach("gateway.shard", f"IDENTIFY with an invalid shard {shard!r}")
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        conn.shard = (shard[0], shard[1])
        intents = int(data["intents"])
        refused = intents & int(PRIVILEGED_INTENTS) & ~self.enabled_privileged_intents
        if refused:
            self.breach("gateway.intents", f"privileged intents {refused} are not enabled")
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        conn.intents = intents
        conn.identify = data
        with self._lock:
            self.identifies += 1
            # A shard receives only its guilds (Discord's formula); DMs come on shard 0.
            guilds = [
                g for g in self.guilds.values() if self.shard_of(g.id, conn.shard[1]) == shard[0]
            ]
        conn.guild_ids = tuple(g.id for g in guilds)
        ready: JSON = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": secrets.token_hex(16),
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": self._application_flags()},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._send(conn, {"op": 0, "t": "READY", "d": ready})
        all_members = bool(intents & Intent.GUILD_MEMBERS)
        for guild in guilds:
            guild_data = guild.gateway_object(bot_id=self.bot_user["id"], all_members=all_members)
            await self._send(conn, {"op": 0, "t": "GUILD_CREATE", "d": guild_data})
        conn.ready = True
        self._shards[conn.shard[0]] = conn
        self._conn = conn

    def _application_flags(self) -> int:
        flags = 0
        for intent, flag in APP_FLAG_BY_INTENT.items():
            if self.enabled_privileged_intents & intent:
                flags |= flag
        return flags

    @staticmethod
    def shard_of(guild_id: Any, num_shards: int) -> int:
        """The shard that carries a guild's events: ``(guild_id >> 22) % num_shards``."""
        return (int(guild_id) >> 22) % num_shards

    @property
    def connected(self) -> bool:
        """A bot is connected and READY (every shard of it, when sharded)."""
        conn = self._conn
        if conn is None or not conn.ready:
            return False
        shards = dict(self._shards)
        return all(i in shards and shards[i].ready for i in range(conn.shard[1]))

    @property
    def shards(self) -> dict[int, JSON]:
        """The IDENTIFY payload of each connected shard, by shard id."""
        return {i: conn.identify or {} for i, conn in dict(self._shards).items()}

    @property
    def shard_guilds(self) -> dict[int, tuple[str, ...]]:
        """The guilds each connected shard was sent, by shard id."""
        return {i: conn.guild_ids for i, conn in dict(self._shards).items()}

    def _connection_for(self, data: JSON) -> _Connection | None:
        """The connection an event goes out on: its guild's shard; shard 0 without one."""
        conn = self._conn
        if conn is None:
            return None
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        shard = self.shard_of(guild_id, conn.shard[1]) if guild_id else 0
        return self._shards.get(shard)

    @property
    def intents(self) -> int:
        """The intents the connected bot identified with (0 when not connected)."""
        conn = self._conn
        return conn.intents if conn is not None else 0

    async def _dispatch(self, event: str, data: JSON) -> None:
        conn = self._connection_for(data)
        if conn is None or not conn.ready:
            raise NotConnected(f"cannot send {event}: no bot is connected and READY")
        await self._send(conn, {"op": 0, "t": event, "d": data})

    def _dispatch_soon(self, event: str, data: JSON, intent: int) -> None:
        """Dispatch from a REST handler if the bot subscribed to ``intent``; never fail."""
        if not self.connected or not self.intents & intent:
            return

        async def send() -> None:
            with suppress(NotConnected, ConnectionResetError, RuntimeError):
                await self._dispatch(event, data)

        asyncio.get_running_loop().create_task(send())

    async def wait_until_connected(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        await wait_until(lambda: self.connected, timeout=timeout, what="the bot to connect")

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send any gateway event to the bot (for events no helper covers)."""
        await self._on_server(self._dispatch(event, data))

    # --- REST: users, application, guilds, channels ---------------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json({**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": self.application_id,
                "name": self.bot_user["username"],
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.app_owner,
                "team": None,
                "flags": self._application_flags(),
                "bot": self.bot_user,
                "redirect_uris": [],
                "approximate_guild_count": len(self.guilds),
            }
        )

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["user_id"])
        if user is None:
            return self._error(request, 404, 10013, "Unknown User", "rest.unknown_user")
        return _json(user)

    async def _create_dm(self, request: web.Request) -> web.Response:
        recipient = str((request[BODY] or {}).get("recipient_id"))
        if recipient not in self.users:
            return self._error(
                request, 400, 50035, "Invalid Form Body", "rest.unknown_user", "unknown recipient"
            )
        channel = self.dm_channel(recipient)
        action = Action("dm_open", request.method, request.path, request[BODY])
        action.channel_id = channel["id"]
        return self._finish(action, _json(channel))

    def _guild_or_error(self, request: web.Request) -> FakeGuild | web.Response:
        guild = self.guilds.get(request.match_info["guild_id"])
        if guild is None:
            return self._error(request, 404, 10004, "Unknown Guild", "rest.unknown_guild")
        return guild

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild_or_error(request)
        return guild if isinstance(guild, web.Response) else _json(guild.rest_object())

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild_or_error(request)
        if isinstance(guild, web.Response):
            return guild
        return _json(list(guild.channels.values()))

    async def _get_member(self, request: web.Request) -> web.Response:
        guild = self._guild_or_error(request)
        if isinstance(guild, web.Response):
            return guild
        member = guild.members.get(request.match_info["user_id"])
        if member is None:
            return self._error(request, 404, 10007, "Unknown Member", "rest.unknown_member")
        return _json(member)

    def _channel_or_error(
        self, request: web.Request
    ) -> tuple[JSON, FakeGuild | None] | web.Response:
        found = self._channel(request.match_info["channel_id"])
        if found is None:
            return self._error(request, 404, 10003, "Unknown Channel", "rest.unknown_channel")
        channel, guild = found
        if guild is not None and not guild.channel_permissions(self.bot_user["id"], channel) & (
            Permission.VIEW_CHANNEL
        ):
            return self._error(request, 403, 50001, "Missing Access", "permissions.missing")
        return found

    async def _get_channel(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        return found if isinstance(found, web.Response) else _json(found[0])

    def _missing_permission(
        self, request: web.Request, guild: FakeGuild | None, channel: JSON, needed: int
    ) -> web.Response | None:
        if guild is None:
            return None
        have = guild.channel_permissions(self.bot_user["id"], channel)
        missing = needed & ~have
        if missing:
            names = [p.name for p in Permission if p & missing]
            return self._error(
                request,
                403,
                50013,
                "Missing Permissions",
                "permissions.missing",
                f"the bot lacks {', '.join(str(n) for n in names)} in channel {channel['id']}",
            )
        return None

    # --- REST: application commands -----------------------------------------------------------

    def _commands_scope(self, request: web.Request) -> list[JSON] | web.Response:
        if request.match_info["app_id"] != self.application_id:
            return self._error(request, 403, 50001, "Missing Access", "commands.wrong_application")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return self.global_commands
        if guild_id not in self.guilds:
            return self._error(request, 403, 50001, "Missing Access", "commands.unknown_guild")
        return self.guild_commands.setdefault(guild_id, [])

    def _stored_command(self, command: JSON, guild_id: str | None, existing: list[JSON]) -> JSON:
        kind = command.get("type", 1)
        previous = next(
            (c for c in existing if c["name"] == command["name"] and c["type"] == kind), None
        )
        stored: JSON = {
            "default_member_permissions": None,
            "nsfw": False,
            **copy.deepcopy(command),
            # Discord keeps a command's id across overwrites when its name and type match.
            "id": previous["id"] if previous else self.ids.next(),
            "application_id": self.application_id,
            "version": self.ids.next(),
            "type": kind,
            "description": command.get("description", ""),
        }
        if guild_id is not None:
            stored["guild_id"] = guild_id
        return stored

    async def _list_commands(self, request: web.Request) -> web.Response:
        scope = self._commands_scope(request)
        return scope if isinstance(scope, web.Response) else _json(scope)

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._commands_scope(request)
        if isinstance(scope, web.Response):
            return scope
        body = request[BODY]
        if not isinstance(body, list):
            return self._error(request, 400, 50035, "Invalid Form Body", "command.body")
        violations = rules.check_commands(body)
        guild_id = request.match_info.get("guild_id")
        action = Action("commands_sync", request.method, request.path, body, guild_id=guild_id)
        if violations:
            return self._finish(action, self._reject(request, violations))
        with self._lock:
            new = [self._stored_command(c, guild_id, scope) for c in body]
            scope[:] = new
        return self._finish(action, _json(new))

    async def _post_command(self, request: web.Request) -> web.Response:
        scope = self._commands_scope(request)
        if isinstance(scope, web.Response):
            return scope
        body = request[BODY]
        violations = rules.check_command(body if isinstance(body, dict) else {})
        guild_id = request.match_info.get("guild_id")
        action = Action("commands_sync", request.method, request.path, body, guild_id=guild_id)
        if violations:
            return self._finish(action, self._reject(request, violations))
        with self._lock:
            stored = self._stored_command(body, guild_id, scope)
            scope[:] = [c for c in scope if c["id"] != stored["id"]] + [stored]
        return self._finish(action, _json(stored, 201))

    def _find_command(self, request: web.Request, scope: list[JSON]) -> JSON | web.Response:
        command_id = request.match_info["command_id"]
        found = next((c for c in scope if c["id"] == command_id), None)
        if found is None:
            return self._error(
                request, 404, 10063, "Unknown application command", "commands.unknown"
            )
        return found

    async def _get_command(self, request: web.Request) -> web.Response:
        scope = self._commands_scope(request)
        if isinstance(scope, web.Response):
            return scope
        found = self._find_command(request, scope)
        return found if isinstance(found, web.Response) else _json(found)

    async def _delete_command(self, request: web.Request) -> web.Response:
        scope = self._commands_scope(request)
        if isinstance(scope, web.Response):
            return scope
        found = self._find_command(request, scope)
        if isinstance(found, web.Response):
            return found
        with self._lock:
            scope.remove(found)
        return _no_content()

    # --- messages (shared by channels, callbacks and webhooks) ----------------------------

    def _attachments_from(self, payload: JSON, files: list[UploadedFile]) -> list[JSON]:
        """Turn uploaded files into attachment objects served by the fake's CDN route."""
        # discord.py names file parts files[N] and lists {"id": N, ...} in attachments;
        # entries with a snowflake id keep an attachment the message already had.
        by_index: dict[int, UploadedFile] = {}
        for uploaded in files:
            match = re.fullmatch(r"files\[(\d+)\]", uploaded.field)
            by_index[int(match.group(1)) if match else len(by_index)] = uploaded
        result = []
        for meta in payload.get("attachments") or []:
            key = str(meta.get("id"))
            upload = by_index.pop(int(key)) if key.isdigit() and int(key) in by_index else None
            if upload is None:
                existing = self._existing_attachment(key)
                if existing is not None:
                    result.append(existing)
                continue
            result.append(self._store_upload(upload, meta.get("description")))
        result.extend(self._store_upload(rest, None) for rest in by_index.values())
        return result

    def _existing_attachment(self, attachment_id: str) -> JSON | None:
        with self._lock:
            entry = self._files.get(attachment_id)
        if entry is None:
            return None
        filename, data, ctype = entry
        url = f"{self.http_url}/attachments/{attachment_id}/{filename}"
        return attachment_object(attachment_id, filename, len(data), url, content_type=ctype)

    def _store_upload(self, upload: UploadedFile, description: str | None) -> JSON:
        attachment = self.add_attachment(upload.filename, upload.data, upload.content_type)
        if description:
            attachment["description"] = description
        return attachment

    def _mentions(self, content: str, allowed: JSON | None, guild: FakeGuild | None) -> list[JSON]:
        """Users a message from the bot actually pings, given its allowed_mentions.

        Without allowed_mentions every user mention pings; with it, only what
        ``parse``/``users`` allows.
        """
        result = []
        for user_id in user_mention_ids(content):
            user = self.users.get(user_id)
            if user is None:
                continue
            pings_users = allowed is None or "users" in (allowed.get("parse") or [])
            # discord.py lists ids as ints, Discord accepts strings too.
            listed = {str(u) for u in (allowed or {}).get("users") or []}
            if not pings_users and user_id not in listed:
                continue
            result.append(self._mention_object(user, guild))
        return result

    def _mention_object(self, user: JSON, guild: FakeGuild | None) -> JSON:
        mention = copy.deepcopy(user)
        if guild is not None and user["id"] in guild.members:
            mention["member"] = {k: v for k, v in guild.members[user["id"]].items() if k != "user"}
        return mention

    def _apply_message_body(
        self, message: JSON, payload: JSON, files: list[UploadedFile], guild: FakeGuild | None
    ) -> None:
        """Copy the fields a send or edit may set onto a stored message."""
        if "content" in payload:
            message["content"] = payload["content"] or ""
        if "embeds" in payload:
            message["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if "components" in payload:
            message["components"] = copy.deepcopy(payload["components"] or [])
        if "attachments" in payload or files:
            message["attachments"] = self._attachments_from(payload, files)
        if "flags" in payload and payload["flags"] is not None:
            keep = message["flags"] & (MESSAGE_FLAG_EPHEMERAL | MESSAGE_FLAG_LOADING)
            message["flags"] = keep | (int(payload["flags"]) & ~MESSAGE_FLAG_EPHEMERAL)
        allowed = payload.get("allowed_mentions")
        message["mentions"] = self._mentions(message["content"], allowed, guild)
        if allowed is None or "roles" in (allowed.get("parse") or []):
            message["mention_roles"] = role_mention_ids(message["content"])
        else:
            roles = {str(r) for r in allowed.get("roles") or []}
            message["mention_roles"] = [
                r for r in role_mention_ids(message["content"]) if r in roles
            ]

    def _new_bot_message(
        self,
        channel: JSON,
        guild: FakeGuild | None,
        payload: JSON,
        files: list[UploadedFile],
        *,
        flags: int = 0,
        interaction: _Interaction | None = None,
    ) -> JSON:
        message = message_object(self.ids.next(), channel["id"], self.bot_user, "", flags=flags)
        if payload.get("tts"):
            message["tts"] = True
        self._apply_message_body(message, payload, files, guild)
        # Only interactions can make ephemeral messages; the caller passes those flags.
        extra = int(payload.get("flags") or 0) & ~(MESSAGE_FLAG_EPHEMERAL | MESSAGE_FLAG_LOADING)
        message["flags"] = flags | extra
        reference = payload.get("message_reference")
        # discord.py sends snowflakes in references as ints; Discord accepts both.
        reference_id = str(reference.get("message_id")) if isinstance(reference, dict) else ""
        if reference_id in self.messages:
            referenced = copy.deepcopy(self.messages[reference_id])
            referenced.pop("referenced_message", None)
            message["type"] = MESSAGE_TYPE_REPLY
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": guild.id} if guild is not None else {}),
            }
            message["referenced_message"] = referenced
            allowed = payload.get("allowed_mentions")
            if allowed is None or allowed.get("replied_user"):
                author = referenced["author"]
                if author["id"] not in {m["id"] for m in message["mentions"]}:
                    message["mentions"].append(self._mention_object(author, guild))
        if interaction is not None:
            message["webhook_id"] = self.application_id
            message["application_id"] = self.application_id
            if interaction.type == APPLICATION_COMMAND:
                message["type"] = MESSAGE_TYPE_CHAT_INPUT
            user = interaction.payload.get("user") or interaction.payload["member"]["user"]
            message["interaction_metadata"] = {
                "id": interaction.id,
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": interaction.payload[
                    "authorizing_integration_owners"
                ],
            }
        with self._lock:
            self.messages[message["id"]] = message
            if not message["flags"] & MESSAGE_FLAG_EPHEMERAL:
                self._history.setdefault(channel["id"], []).append(message["id"])
                channel["last_message_id"] = message["id"]
                if channel.get("type") in THREAD_TYPES:
                    channel["message_count"] += 1
                    channel["total_message_sent"] += 1
        self._echo("MESSAGE_CREATE", message, channel, guild)
        return copy.deepcopy(message)

    def _edit_stored_message(
        self,
        message: JSON,
        payload: JSON,
        files: list[UploadedFile],
        guild: FakeGuild | None,
    ) -> JSON:
        with self._lock:
            was_loading = bool(message["flags"] & MESSAGE_FLAG_LOADING)
            self._apply_message_body(message, payload, files, guild)
            message["flags"] &= ~MESSAGE_FLAG_LOADING
            if not was_loading:
                message["edited_timestamp"] = message_object("0", "0", {}, "")["timestamp"]
            result = copy.deepcopy(message)
        found = self._channel(message["channel_id"])
        if found is not None:
            self._echo("MESSAGE_UPDATE", message, found[0], guild)
        return result

    def _echo(self, event: str, message: JSON, channel: JSON, guild: FakeGuild | None) -> None:
        """Discord tells the bot about its own messages too (a classic reply-loop trap)."""
        if not self.echo_own_messages or message["flags"] & MESSAGE_FLAG_EPHEMERAL:
            return
        data = copy.deepcopy(message)
        intent = Intent.DIRECT_MESSAGES if guild is None else Intent.GUILD_MESSAGES
        if guild is not None:
            data["guild_id"] = guild.id
            author = guild.members.get(data["author"]["id"])
            if author is not None:
                data["member"] = {k: v for k, v in author.items() if k != "user"}
        self._dispatch_soon(event, data, intent)

    def _check_body(
        self, request: web.Request, payload: Any, *, creating: bool
    ) -> web.Response | None:
        """All message rules; a 400 like Discord's for the enforced ones."""
        if not isinstance(payload, dict):
            return self._error(
                request, 400, 50109, "The request body contains invalid JSON.", "message.body"
            )
        files: list[UploadedFile] = request[FILES]
        violations = rules.check_message(payload, creating=creating, file_count=len(files))
        for upload in files:
            if len(upload.data) > self.attachment_size_limit:
                violations.append(
                    rules.Violation(
                        "files.too_large",
                        f"{upload.filename} is {len(upload.data)} bytes, "
                        f"limit {self.attachment_size_limit}",
                    )
                )
        if creating and violations and any(v.rule == "message.empty" for v in violations):
            for violation in violations:
                self.breach(violation.rule, violation.message, request)
            return _json({"message": "Cannot send an empty message", "code": 50006}, 400)
        if any(v.rule == "files.too_large" for v in violations):
            for violation in violations:
                self.breach(violation.rule, violation.message, request)
            return _json({"message": "Request entity too large", "code": 40005}, 413)
        if self._note(request, violations):
            return self._reject(request, [v for v in violations if v.enforced])
        return None

    def _count_bot_message(self, request: web.Request) -> web.Response | None:
        with self._lock:
            self._bot_messages_sent += 1
            runaway = self._bot_messages_sent > self.max_bot_messages
        if runaway:
            # No Via header: discord.py gives up at once instead of retrying.
            return self._error(
                request,
                429,
                20028,
                "You are being rate limited.",
                "ratelimit.runaway",
                f"the bot sent more than {self.max_bot_messages} messages (a reply loop?)",
                body={"message": "You are being rate limited.", "retry_after": 60, "global": False},
            )
        return None

    # --- REST: channel messages ---------------------------------------------------------

    async def _create_message(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, guild = found
        payload = request[BODY]
        action = Action(
            "message",
            request.method,
            request.path,
            payload,
            tuple(_files(request)),
            channel_id=channel["id"],
            guild_id=guild.id if guild else None,
        )
        needed = Permission.VIEW_CHANNEL | (
            Permission.SEND_MESSAGES_IN_THREADS
            if channel.get("type") in THREAD_TYPES
            else Permission.SEND_MESSAGES
        )
        if request[FILES]:
            needed |= Permission.ATTACH_FILES
        failure = (
            self._missing_permission(request, guild, channel, needed)
            or self._check_body(request, payload, creating=True)
            or self._check_reference(request, payload, channel)
            or self._count_bot_message(request)
        )
        if failure is not None:
            return self._finish(action, failure)
        if guild is not None and payload.get("embeds"):
            have = guild.channel_permissions(self.bot_user["id"], channel)
            if not have & Permission.EMBED_LINKS:
                self.breach(
                    "permissions.embed_links",
                    "embeds sent without EMBED_LINKS are not shown",
                    request,
                )
        message = self._new_bot_message(channel, guild, payload, request[FILES])
        action.message = message
        action.message_id = message["id"]
        return self._finish(action, _json(message))

    def _check_reference(
        self, request: web.Request, payload: JSON, channel: JSON
    ) -> web.Response | None:
        reference = payload.get("message_reference")
        if not isinstance(reference, dict):
            return None
        target = self.messages.get(str(reference.get("message_id")))
        if target is None and reference.get("fail_if_not_exists", True):
            return self._error(
                request,
                400,
                50035,
                "Invalid Form Body",
                "message.unknown_reference",
                f"reply to unknown message {reference.get('message_id')}",
            )
        return None

    def _message_or_error(self, request: web.Request, channel: JSON) -> JSON | web.Response:
        message = self.messages.get(request.match_info["message_id"])
        if message is None or message["channel_id"] != channel["id"]:
            return self._error(request, 404, 10008, "Unknown Message", "rest.unknown_message")
        return message

    async def _list_messages(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, _ = found
        limit = max(1, min(100, int(request.query.get("limit", "50"))))
        history = self.channel_history(channel)
        if "before" in request.query:
            history = [m for m in history if int(m["id"]) < int(request.query["before"])]
        if "after" in request.query:
            history = [m for m in history if int(m["id"]) > int(request.query["after"])]
            return _json(list(reversed(history[:limit])))
        # Discord lists newest first.
        return _json(list(reversed(history))[:limit])

    async def _get_message(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        message = self._message_or_error(request, found[0])
        return message if isinstance(message, web.Response) else _json(copy.deepcopy(message))

    async def _edit_message(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, guild = found
        payload = request[BODY]
        action = Action(
            "message_edit",
            request.method,
            request.path,
            payload,
            tuple(_files(request)),
            channel_id=channel["id"],
            guild_id=guild.id if guild else None,
            message_id=request.match_info["message_id"],
        )
        message = self._message_or_error(request, channel)
        if isinstance(message, web.Response):
            return self._finish(action, message)
        failure = None
        if message["author"]["id"] != self.bot_user["id"]:
            failure = self._error(
                request,
                403,
                50005,
                "Cannot edit a message authored by another user",
                "message.not_own",
            )
        failure = failure or self._check_body(request, payload, creating=False)
        if failure is not None:
            return self._finish(action, failure)
        action.message = self._edit_stored_message(message, payload, request[FILES], guild)
        return self._finish(action, _json(action.message))

    async def _delete_message(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, guild = found
        action = Action(
            "message_delete",
            request.method,
            request.path,
            None,
            channel_id=channel["id"],
            message_id=request.match_info["message_id"],
        )
        message = self._message_or_error(request, channel)
        if isinstance(message, web.Response):
            return self._finish(action, message)
        if message["author"]["id"] != self.bot_user["id"]:
            failure = self._missing_permission(request, guild, channel, Permission.MANAGE_MESSAGES)
            if failure is not None:
                return self._finish(action, failure)
        self._forget_message(message, guild)
        return self._finish(action, _no_content())

    def _forget_message(self, message: JSON, guild: FakeGuild | None) -> None:
        with self._lock:
            self.messages.pop(message["id"], None)
            history = self._history.get(message["channel_id"], [])
            if message["id"] in history:
                history.remove(message["id"])
        data: JSON = {"id": message["id"], "channel_id": message["channel_id"]}
        if guild is not None:
            data["guild_id"] = guild.id
        intent = Intent.DIRECT_MESSAGES if guild is None else Intent.GUILD_MESSAGES
        if self.echo_own_messages and not message["flags"] & MESSAGE_FLAG_EPHEMERAL:
            self._dispatch_soon("MESSAGE_DELETE", data, intent)

    async def _typing(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, guild = found
        action = Action("typing", request.method, request.path, None, channel_id=channel["id"])
        failure = self._missing_permission(request, guild, channel, Permission.SEND_MESSAGES)
        return self._finish(action, failure or _no_content())

    async def _reaction(self, request: web.Request, kind: str) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, guild = found
        action = Action(
            kind,
            request.method,
            request.path,
            {"emoji": request.match_info["emoji"]},
            channel_id=channel["id"],
            message_id=request.match_info["message_id"],
        )
        message = self._message_or_error(request, channel)
        failure = message if isinstance(message, web.Response) else None
        if failure is None and kind == "reaction_add":
            needed = Permission.ADD_REACTIONS | Permission.READ_MESSAGE_HISTORY
            failure = self._missing_permission(request, guild, channel, needed)
        return self._finish(action, failure or _no_content())

    async def _add_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, "reaction_add")

    async def _remove_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, "reaction_remove")

    # --- REST: threads ------------------------------------------------------------------

    def _new_thread(
        self, request: web.Request, parent: JSON, guild: FakeGuild, thread_id: str, private: bool
    ) -> web.Response:
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        name = body.get("name")
        action = Action(
            "thread_create",
            request.method,
            request.path,
            body,
            channel_id=parent["id"],
            guild_id=guild.id,
        )
        failure: web.Response | None = None
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            failure = self._error(
                request,
                400,
                50035,
                "Invalid Form Body",
                "thread.name",
                f"thread name {name!r} must be 1..100 characters",
            )
        needed = Permission.CREATE_PRIVATE_THREADS if private else Permission.CREATE_PUBLIC_THREADS
        failure = failure or self._missing_permission(request, guild, parent, needed)
        if failure is not None:
            return self._finish(action, failure)
        thread = thread_object(
            thread_id,
            guild.id,
            parent["id"],
            self.bot_user["id"],
            str(name),
            private=private,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        thread["member"] = {
            "id": thread_id,
            "user_id": self.bot_user["id"],
            "join_timestamp": thread["thread_metadata"]["create_timestamp"],
            "flags": 0,
        }
        with self._lock:
            guild.threads[thread_id] = thread
        action.message = thread
        action.message_id = thread_id
        self._dispatch_soon("THREAD_CREATE", {**thread, "newly_created": True}, Intent.GUILDS)
        return self._finish(action, _json(thread, 201))

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, guild = found
        if guild is None or channel.get("type") in THREAD_TYPES:
            return self._error(
                request,
                400,
                50024,
                "Cannot execute action on this channel type",
                "thread.channel_type",
            )
        message = self._message_or_error(request, channel)
        if isinstance(message, web.Response):
            return message
        if message["id"] in guild.threads:
            return self._error(
                request,
                400,
                160004,
                "A thread has already been created for this message",
                "thread.exists",
            )
        # A thread started from a message shares the message's id.
        response = self._new_thread(request, channel, guild, message["id"], private=False)
        if response.status < 300:
            with self._lock:
                message["thread"] = copy.deepcopy(guild.threads[message["id"]])
        return response

    async def _create_thread(self, request: web.Request) -> web.Response:
        found = self._channel_or_error(request)
        if isinstance(found, web.Response):
            return found
        channel, guild = found
        if guild is None or channel.get("type") in THREAD_TYPES:
            return self._error(
                request,
                400,
                50024,
                "Cannot execute action on this channel type",
                "thread.channel_type",
            )
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        # API v10 makes a private thread unless told otherwise.
        private = int(body.get("type") or ChannelType.PRIVATE_THREAD) == ChannelType.PRIVATE_THREAD
        return self._new_thread(request, channel, guild, self.ids.next(), private)

    async def _get_attachment(self, request: web.Request) -> web.Response:
        with self._lock:
            entry = self._files.get(request.match_info["attachment_id"])
        if entry is None:
            return self._error(request, 404, 0, "Not Found", "cdn.unknown_attachment")
        _, data, ctype = entry
        return web.Response(body=data, content_type=ctype or "application/octet-stream")

    # --- interactions: injection -----------------------------------------------------------

    def _interaction_base(
        self, itype: int, data: JSON | None, *, user: Any, channel: Any
    ) -> tuple[JSON, FakeGuild | None]:
        found = self._require_channel(channel)
        channel, guild = found
        user_json = self.users[_id_of(user)]
        payload: JSON = {
            "id": self.ids.next(),
            "application_id": self.application_id,
            "type": itype,
            "token": f"fake-interaction-{secrets.token_hex(24)}",
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": self.attachment_size_limit,
        }
        if data is not None:
            payload["data"] = data
        if guild is not None:
            if user_json["id"] not in guild.members:
                raise ValueError(f"{user_json['username']} is not a member of {guild.name}")
            member = copy.deepcopy(guild.members[user_json["id"]])
            member["permissions"] = str(guild.channel_permissions(user_json["id"], channel))
            payload.update(
                guild_id=guild.id,
                guild={"id": guild.id, "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member,
                app_permissions=str(guild.channel_permissions(self.bot_user["id"], channel)),
                context=0,
                authorizing_integration_owners={"0": guild.id},
                channel={**copy.deepcopy(channel), "permissions": member["permissions"]},
            )
        else:
            payload.update(
                user=copy.deepcopy(user_json),
                app_permissions=str(int(DM_PERMISSIONS)),
                context=1,
                # Discord's value for a guild-installed app used in its bot's DM.
                authorizing_integration_owners={"0": "0"},
                channel=copy.deepcopy(channel),
            )
        return payload, guild

    def _where(self, user: Any, channel: Any, dm: bool) -> tuple[Any, JSON]:
        user = user if user is not None else self.member
        if dm:
            return user, self.dm_channel(user)
        return user, self._require_channel(channel if channel is not None else self.channel)[0]

    async def _send_interaction(self, payload: JSON, guild: FakeGuild | None) -> InteractionHandle:
        state = _Interaction(
            id=payload["id"],
            token=payload["token"],
            type=payload["type"],
            payload=payload,
            channel_id=payload["channel"]["id"],
            guild_id=guild.id if guild is not None else None,
        )
        with self._lock:
            self._interactions[state.id] = state
            self._by_token[state.token] = state
            # The bot may answer before this coroutine resumes: the handle starts here.
            start = len(self._actions)

        async def send() -> None:
            # The clock starts as the event leaves, like Discord's 3-second window.
            state.sent_at = time.monotonic()
            await self._dispatch("INTERACTION_CREATE", payload)

        await self._on_server(send())
        return InteractionHandle(self, payload, start=start)

    def _synced_command(self, name: str, guild: FakeGuild | None) -> JSON | None:
        """The chat-input command ``name`` as synced (guild scope first, then global)."""
        with self._lock:
            scopes = [self.guild_commands.get(guild.id, [])] if guild is not None else []
            scopes.append(self.global_commands)
            for scope in scopes:
                for command in scope:
                    if command["name"] == name and command["type"] == 1:
                        return command
        return None

    def _command_data(
        self,
        name: str,
        options: dict[str, Any] | list[JSON] | None,
        guild: FakeGuild | None,
        resolved: JSON | None,
        user_id: str,
    ) -> JSON:
        """INTERACTION_CREATE ``data`` for ``"cmd sub-group sub"`` with option values.

        Option types come from the synced schema when the command was synced (falling
        back to the Python type of the value); user, member, role, channel and
        attachment values are turned into ids plus ``resolved`` entries.
        """
        root, *path = name.split()
        command = self._synced_command(root, guild)
        data: JSON = {"id": command["id"] if command else self.ids.next(), "name": root, "type": 1}
        if command is not None and "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        schema: list[JSON] = (command or {}).get("options") or []
        resolved_out: JSON = copy.deepcopy(resolved) if resolved else {}
        if isinstance(options, list):
            leaf = copy.deepcopy(options)
        else:
            for sub in path:
                sub_schema = next((o for o in schema if o.get("name") == sub), {})
                schema = sub_schema.get("options") or []
            leaf = [
                self._option(
                    n,
                    v,
                    next((o for o in schema if o.get("name") == n), None),
                    guild,
                    resolved_out,
                    user_id,
                )
                for n, v in (options or {}).items()
            ]
        # Wrap the leaf options in their subcommand (and group), innermost last.
        for index, sub in enumerate(reversed(path)):
            kind = OPT_SUB_COMMAND if index == 0 else OPT_GROUP
            leaf = [{"name": sub, "type": kind, "options": leaf}]
        if leaf:
            data["options"] = leaf
        if resolved_out:
            data["resolved"] = resolved_out
        return data

    def _option(
        self,
        name: str,
        value: Any,
        schema: JSON | None,
        guild: FakeGuild | None,
        resolved: JSON,
        user_id: str,
    ) -> JSON:
        kind = int(schema["type"]) if schema else self._infer_option_type(value)
        is_user = isinstance(value, dict) and ("username" in value or "user" in value)
        if kind in (OPT_USER, OPT_MENTIONABLE) and (is_user or _id_of(value) in self.users):
            user = self.users[_id_of(value)]
            resolved.setdefault("users", {})[user["id"]] = user
            if guild is not None and user["id"] in guild.members:
                member = {k: v for k, v in guild.members[user["id"]].items() if k != "user"}
                member["permissions"] = str(guild.base_permissions(user["id"]))
                resolved.setdefault("members", {})[user["id"]] = member
            value = user["id"]
        elif kind in (OPT_ROLE, OPT_MENTIONABLE) and guild is not None:
            role = guild.roles[_id_of(value)]
            resolved.setdefault("roles", {})[role["id"]] = role
            value = role["id"]
        elif kind == OPT_CHANNEL:
            channel, _ = self._require_channel(value)
            keys = ("id", "name", "type", "parent_id", "thread_metadata")
            partial: JSON = {k: channel[k] for k in keys if k in channel}
            # Resolved channels carry the invoking user's permissions there.
            partial["permissions"] = str(
                guild.channel_permissions(user_id, channel)
                if guild is not None and user_id in guild.members
                else int(DM_PERMISSIONS)
            )
            resolved.setdefault("channels", {})[channel["id"]] = partial
            value = channel["id"]
        elif kind == OPT_ATTACHMENT:
            attachment = value if isinstance(value, dict) else self.add_attachment(*value)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            value = attachment["id"]
        return {"name": name, "type": kind, "value": value}

    @staticmethod
    def _infer_option_type(value: Any) -> int:
        if isinstance(value, bool):
            return OPT_BOOLEAN
        if isinstance(value, int):
            return OPT_INTEGER
        if isinstance(value, float):
            return OPT_NUMBER
        if (isinstance(value, dict) and "filename" in value) or isinstance(value, tuple):
            return OPT_ATTACHMENT
        if isinstance(value, dict) and ("username" in value or "user" in value):
            return OPT_USER
        return OPT_STRING

    async def send_command(
        self,
        name: str,
        options: dict[str, Any] | list[JSON] | None = None,
        *,
        user: Any = None,
        channel: Any = None,
        dm: bool = False,
        resolved: JSON | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """A slash command, e.g. ``send_command("news latest", {"topic": "energy"})``.

        Defaults: the plain member, in the default guild's general channel. ``dm=True``
        runs it in the user's DM with the bot. Attachment options take an attachment
        from :meth:`add_attachment` or a ``(filename, bytes[, content_type])`` tuple.
        """
        user, channel_json = self._where(user, channel, dm)
        guild = self._require_channel(channel_json)[1]
        data = self._command_data(name, options, guild, resolved, _id_of(user))
        payload, guild = self._interaction_base(
            APPLICATION_COMMAND, data, user=user, channel=channel_json
        )
        payload["locale"] = locale
        return await self._send_interaction(payload, guild)

    async def send_autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        user: Any = None,
        channel: Any = None,
        dm: bool = False,
    ) -> InteractionHandle:
        """An autocomplete request while the user types option ``focused``."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} must be one of the options")
        user, channel_json = self._where(user, channel, dm)
        guild = self._require_channel(channel_json)[1]
        data = self._command_data(name, options, guild, None, _id_of(user))
        data.pop("resolved", None)
        leaf = data["options"]
        while leaf and leaf[0]["type"] in (OPT_SUB_COMMAND, OPT_GROUP):
            leaf = leaf[0]["options"]
        for option in leaf:
            if option["name"] == focused:
                option["focused"] = True
                # What the user has typed so far always arrives as a string.
                option["value"] = str(options[focused])
        payload, guild = self._interaction_base(AUTOCOMPLETE, data, user=user, channel=channel_json)
        return await self._send_interaction(payload, guild)

    async def send_component(
        self,
        message: Any,
        custom_id: str,
        *,
        values: list[str] | None = None,
        user: Any = None,
    ) -> InteractionHandle:
        """A click on a button (or a select choice) of a message the bot sent."""
        with self._lock:
            stored = self.messages.get(_id_of(message))
            if stored is None:
                raise ValueError(f"unknown message {_id_of(message)}")
            stored = copy.deepcopy(stored)
        components = list(rules.walk_components(stored.get("components") or []))
        target = next((c for c in components if c.get("custom_id") == custom_id), None)
        if target is None:
            ids = [c["custom_id"] for c in components if "custom_id" in c]
            raise ValueError(f"message {stored['id']} has no component {custom_id!r}; has {ids}")
        data: JSON = {"custom_id": custom_id, "component_type": target["type"]}
        if values is not None or target["type"] != 2:
            data["values"] = list(values or [])
        user = user if user is not None else self.member
        payload, guild = self._interaction_base(
            MESSAGE_COMPONENT, data, user=user, channel=stored["channel_id"]
        )
        payload["message"] = stored
        return await self._send_interaction(payload, guild)

    async def send_modal_submit(
        self, modal: Any, values: dict[str, str], *, user: Any = None
    ) -> InteractionHandle:
        """Submit a modal the bot opened. ``modal`` is the callback Action (type 9) or
        that interaction's handle; ``values`` maps text input custom_ids to text."""
        if isinstance(modal, InteractionHandle):
            modal = next(a for a in modal.actions if a.callback_type == MODAL and a.ok)
        modal_data: JSON = modal.payload["data"]
        with self._lock:
            origin = self._by_token[modal.token]

        def answer(component: JSON) -> JSON | None:
            if component.get("type") == 1:
                inner = [a for c in component.get("components") or [] if (a := answer(c))]
                return {"type": 1, "components": inner}
            if component.get("type") == 18 and isinstance(component.get("component"), dict):
                inner_answer = answer(component["component"])
                return {"type": 18, "component": inner_answer} if inner_answer else None
            if component.get("type") == 4:
                custom_id = component["custom_id"]
                return {"type": 4, "custom_id": custom_id, "value": values.get(custom_id, "")}
            return None

        components = [a for c in modal_data.get("components") or [] if (a := answer(c))]
        data = {"custom_id": modal_data["custom_id"], "components": components}
        user = (
            user
            if user is not None
            else (origin.payload.get("user") or origin.payload["member"]["user"])
        )
        payload, guild = self._interaction_base(
            MODAL_SUBMIT, data, user=user, channel=origin.channel_id
        )
        if "message" in origin.payload:
            payload["message"] = origin.payload["message"]
        return await self._send_interaction(payload, guild)

    # --- interactions: callbacks ------------------------------------------------------------

    async def _callback(self, request: web.Request) -> web.Response:
        with self._lock:
            state = self._interactions.get(request.match_info["interaction_id"])
        payload = request[BODY] if isinstance(request[BODY], dict) else {}
        cb_type = payload.get("type")
        action = Action(
            "callback",
            request.method,
            request.path,
            payload,
            tuple(_files(request)),
            interaction_id=request.match_info["interaction_id"],
            token=request.match_info["token"],
            callback_type=cb_type,
        )
        response = self._handle_callback(request, state, payload, cb_type, action)
        return self._finish(action, response)

    def _handle_callback(
        self,
        request: web.Request,
        state: _Interaction | None,
        payload: JSON,
        cb_type: Any,
        action: Action,
    ) -> web.Response:
        if state is None or state.token != request.match_info["token"]:
            return self._error(request, 404, 10062, "Unknown interaction", "interaction.unknown")
        action.channel_id = state.channel_id
        action.guild_id = state.guild_id
        elapsed = time.monotonic() - state.sent_at
        if state.callback_type is not None:
            return self._error(
                request,
                400,
                40060,
                "Interaction has already been acknowledged.",
                "interaction.double_ack",
                f"interaction {state.id} got a second callback "
                f"(type {cb_type} after type {state.callback_type})",
            )
        if elapsed > self.interaction_deadline:
            return self._error(
                request,
                404,
                10062,
                "Unknown interaction",
                "interaction.deadline",
                f"first response came {elapsed:.2f}s after the interaction, "
                f"limit {self.interaction_deadline:.2f}s",
            )
        if cb_type not in ALLOWED_CALLBACKS.get(state.type, set()):
            return self._error(
                request,
                400,
                50035,
                "Invalid Form Body",
                "interaction.bad_callback_type",
                f"callback type {cb_type} is not valid for interaction type {state.type}",
            )
        data: JSON = payload["data"] if isinstance(payload.get("data"), dict) else {}
        found = self._require_channel(state.channel_id)
        channel, guild = found
        message: JSON | None = None
        if cb_type == CHANNEL_MESSAGE:
            failure = self._check_body(request, data, creating=True)
            if failure is not None:
                return failure
            flags = int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL
            message = self._new_bot_message(
                channel, guild, data, request[FILES], flags=flags, interaction=state
            )
            state.original_id = message["id"]
        elif cb_type == DEFERRED_CHANNEL_MESSAGE:
            flags = (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL) | MESSAGE_FLAG_LOADING
            message = self._new_bot_message(channel, guild, {}, [], flags=flags, interaction=state)
            state.original_id = message["id"]
            state.loading = True
        elif cb_type in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            origin = state.payload.get("message")
            if origin is None or origin["id"] not in self.messages:
                return self._error(
                    request,
                    400,
                    10008,
                    "Unknown Message",
                    "interaction.bad_callback_type",
                    "update callback but the interaction has no message",
                )
            state.original_id = origin["id"]
            if cb_type == UPDATE_MESSAGE:
                failure = self._check_body(request, data, creating=False)
                if failure is not None:
                    return failure
                message = self._edit_stored_message(
                    self.messages[origin["id"]], data, request[FILES], guild
                )
        elif cb_type == AUTOCOMPLETE_RESULT:
            violations = rules.check_autocomplete(data)
            if violations:
                return self._reject(request, violations)
        elif cb_type == MODAL:
            violations = rules.check_modal(data)
            if violations:
                return self._reject(request, violations)
        state.callback_type = cb_type
        action.message = message
        action.message_id = message["id"] if message else state.original_id
        if request.query.get("with_response") not in ("1", "true", "True"):
            return _no_content()
        return _json(self._callback_response(state, cb_type, message))

    def _callback_response(self, state: _Interaction, cb_type: int, message: JSON | None) -> JSON:
        """Discord's InteractionCallbackResponse (what ``?with_response=true`` returns)."""
        info: JSON = {"id": state.id, "type": state.type}
        if state.original_id is not None and cb_type in (
            CHANNEL_MESSAGE,
            DEFERRED_CHANNEL_MESSAGE,
            UPDATE_MESSAGE,
        ):
            info["response_message_id"] = state.original_id
            info["response_message_loading"] = cb_type == DEFERRED_CHANNEL_MESSAGE
            info["response_message_ephemeral"] = bool(
                message and message["flags"] & MESSAGE_FLAG_EPHEMERAL
            )
        result: JSON = {"interaction": info}
        if cb_type in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE, MODAL):
            result["resource"] = {"type": cb_type}
            if message is not None:
                result["resource"]["message"] = message
        return result

    # --- interactions: webhooks ------------------------------------------------------------

    def _webhook_state(self, request: web.Request, action: Action) -> _Interaction | web.Response:
        with self._lock:
            state = self._by_token.get(request.match_info["token"])
        if request.match_info["app_id"] != self.application_id or state is None:
            return self._error(request, 404, 10015, "Unknown Webhook", "interaction.unknown")
        action.channel_id = state.channel_id
        action.guild_id = state.guild_id
        action.interaction_id = state.id
        if state.callback_type is None:
            return self._error(
                request,
                404,
                10015,
                "Unknown Webhook",
                "interaction.not_acknowledged",
                "webhook call before the interaction got a callback",
            )
        if time.monotonic() - state.sent_at > self.token_lifetime:
            return self._error(
                request,
                401,
                50027,
                "Invalid Webhook Token",
                "interaction.token_expired",
                f"interaction token used after {self.token_lifetime:.0f}s",
            )
        return state

    def _webhook_action(self, request: web.Request, kind: str) -> Action:
        return Action(
            kind,
            request.method,
            request.path,
            request[BODY],
            tuple(_files(request)),
            token=request.match_info["token"],
            message_id=request.match_info.get("message_id"),
        )

    def _webhook_message(self, request: web.Request, state: _Interaction) -> JSON | web.Response:
        message_id = request.match_info["message_id"]
        if message_id == "@original":
            if state.original_id is None:
                return self._error(
                    request,
                    404,
                    10008,
                    "Unknown Message",
                    "interaction.no_original",
                    f"callback type {state.callback_type} made no message",
                )
            message_id = state.original_id
        elif message_id not in state.message_ids and message_id != state.original_id:
            return self._error(request, 404, 10008, "Unknown Message", "rest.unknown_message")
        message = self.messages.get(message_id)
        if message is None:
            return self._error(request, 404, 10008, "Unknown Message", "rest.unknown_message")
        return message

    async def _followup(self, request: web.Request) -> web.Response:
        action = self._webhook_action(request, "followup")
        return self._finish(action, self._handle_followup(request, action))

    def _handle_followup(self, request: web.Request, action: Action) -> web.Response:
        state = self._webhook_state(request, action)
        if isinstance(state, web.Response):
            return state
        payload = request[BODY]
        failure = self._check_body(request, payload, creating=True)
        if failure is not None:
            return failure
        channel, guild = self._require_channel(state.channel_id)
        if state.loading and state.original_id in self.messages:
            # Discord's rule: the first followup after a deferred response replaces the
            # "thinking" message, keeping the ephemerality chosen when deferring.
            message = self._edit_stored_message(
                self.messages[state.original_id], payload, request[FILES], guild
            )
            state.loading = False
        else:
            flags = int(payload.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL
            message = self._new_bot_message(
                channel, guild, payload, request[FILES], flags=flags, interaction=state
            )
        state.message_ids.add(message["id"])
        action.message = message
        action.message_id = message["id"]
        if request.query.get("wait") in ("1", "true", "True"):
            return _json(message)
        return _no_content()

    async def _get_webhook_msg(self, request: web.Request) -> web.Response:
        action = Action("webhook_get", request.method, request.path, None)  # not recorded
        state = self._webhook_state(request, action)
        if isinstance(state, web.Response):
            return state
        message = self._webhook_message(request, state)
        return message if isinstance(message, web.Response) else _json(copy.deepcopy(message))

    async def _edit_webhook_msg(self, request: web.Request) -> web.Response:
        original = request.match_info["message_id"] == "@original"
        action = self._webhook_action(request, "original_edit" if original else "followup_edit")
        return self._finish(action, self._handle_webhook_edit(request, action))

    def _handle_webhook_edit(self, request: web.Request, action: Action) -> web.Response:
        state = self._webhook_state(request, action)
        if isinstance(state, web.Response):
            return state
        message = self._webhook_message(request, state)
        if isinstance(message, web.Response):
            return message
        failure = self._check_body(request, request[BODY], creating=False)
        if failure is not None:
            return failure
        guild = self.guilds.get(state.guild_id) if state.guild_id else None
        if message["id"] == state.original_id:
            state.loading = False
        action.message = self._edit_stored_message(message, request[BODY], request[FILES], guild)
        action.message_id = message["id"]
        return _json(action.message)

    async def _delete_webhook_msg(self, request: web.Request) -> web.Response:
        original = request.match_info["message_id"] == "@original"
        action = self._webhook_action(request, "original_delete" if original else "followup_delete")
        state = self._webhook_state(request, action)
        response: web.Response
        if isinstance(state, web.Response):
            response = state
        else:
            message = self._webhook_message(request, state)
            if isinstance(message, web.Response):
                response = message
            else:
                guild = self.guilds.get(state.guild_id) if state.guild_id else None
                self._forget_message(message, guild)
                action.message_id = message["id"]
                response = _no_content()
        return self._finish(action, response)

    # --- users' messages: injection --------------------------------------------------------

    async def send_message(
        self,
        content: str = "",
        *,
        channel: Any = None,
        author: Any = None,
        dm: bool = False,
        mention_bot: bool = False,
        reply_to: Any = None,
        reply_ping: bool = True,
        attachments: Iterable[Any] = (),
        embeds: list[JSON] | None = None,
    ) -> MessageHandle:
        """A user's message (MESSAGE_CREATE), like Discord would deliver it to the bot.

        Defaults: the plain member, in the general channel. ``dm=True`` sends it in the
        author's DM with the bot; ``mention_bot`` prefixes ``<@bot>``; ``reply_to`` makes
        it a reply (pinging the replied author unless ``reply_ping=False``);
        ``attachments`` take dicts from :meth:`add_attachment` or ``(filename, bytes)``.
        Delivery follows the bot's intents: no GUILD_MESSAGES / DIRECT_MESSAGES, no
        event; no MESSAGE_CONTENT, empty content unless it is a DM or mentions the bot.
        """
        author_json = self.users[_id_of(author if author is not None else self.member)]
        if dm:
            channel_json, guild = self.dm_channel(author_json), None
        else:
            channel_json, guild = self._require_channel(
                channel if channel is not None else self.channel
            )
        if mention_bot:
            content = f"<@{self.bot_user['id']}> {content}".rstrip()
        files = [a if isinstance(a, dict) else self.add_attachment(*a) for a in attachments]
        message = message_object(
            self.ids.next(),
            channel_json["id"],
            author_json,
            content,
            attachments=files,
            embeds=embeds,
            mention_roles=role_mention_ids(content) if guild else [],
        )
        message["mentions"] = self._mentions(content, None, guild)
        if reply_to is not None:
            with self._lock:
                referenced = copy.deepcopy(self.messages[_id_of(reply_to)])
            referenced.pop("referenced_message", None)
            message["type"] = MESSAGE_TYPE_REPLY
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": guild.id} if guild else {}),
            }
            message["referenced_message"] = referenced
            replied = referenced["author"]
            if reply_ping and replied["id"] not in {m["id"] for m in message["mentions"]}:
                message["mentions"].append(self._mention_object(replied, guild))
        if guild is not None:
            if author_json["id"] not in guild.members:
                raise ValueError(f"{author_json['username']} is not a member of {guild.name}")
            message["guild_id"] = guild.id
            message["member"] = {
                k: v for k, v in guild.members[author_json["id"]].items() if k != "user"
            }
        delivered, why, visible = self._delivery(message, guild)
        with self._lock:
            self.messages[message["id"]] = message
            self._history.setdefault(channel_json["id"], []).append(message["id"])
            channel_json["last_message_id"] = message["id"]
            start = len(self._actions)
        if delivered:
            await self._on_server(self._dispatch("MESSAGE_CREATE", visible))
        return MessageHandle(
            self, copy.deepcopy(message), delivered=delivered, why=why, start=start
        )

    def _delivery(self, message: JSON, guild: FakeGuild | None) -> tuple[bool, str, JSON]:
        """Whether Discord would deliver ``message`` to the bot, and what it would see."""
        if not self.connected:
            raise NotConnected("cannot send a message: no bot is connected and READY")
        intents = self.intents
        needed = Intent.DIRECT_MESSAGES if guild is None else Intent.GUILD_MESSAGES
        if not intents & needed:
            return False, f"the bot did not request the {needed.name} intent", message
        visible = copy.deepcopy(message)
        mentioned = any(m["id"] == self.bot_user["id"] for m in message["mentions"])
        if guild is not None and not mentioned and not intents & Intent.MESSAGE_CONTENT:
            # Discord blanks these for bots without the MESSAGE_CONTENT intent.
            for key in ("embeds", "attachments", "components"):
                visible[key] = []
            visible["content"] = ""
        return True, "", visible

    # --- convenience ---------------------------------------------------------------------

    @contextmanager
    def patched_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and gateway URL at this fake, then restore them."""
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
