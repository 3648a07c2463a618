"""What the fake records, and the handles tests await to see what the bot did."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeDiscord

JSON = dict[str, Any]

DEFAULT_TIMEOUT = 5.0
POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    data: bytes
    content_type: str | None = None


@dataclass(frozen=True)
class Request:
    """One REST request as it arrived, with the status the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: tuple[UploadedFile, ...]
    status: int
    at: float


@dataclass(frozen=True)
class Breach:
    """A rule the bot broke. ``rule`` is a short dotted code, e.g. ``content.length``."""

    rule: str
    message: str
    method: str = ""
    path: str = ""

    def __str__(self) -> str:
        where = f" [{self.method} {self.path}]" if self.method else ""
        return f"{self.rule}: {self.message}{where}"


@dataclass
class Action:
    """Something the bot did that changes what users see.

    ``kind`` is one of: ``message`` (a channel message), ``message_edit``,
    ``message_delete``, ``typing``, ``reaction_add``, ``reaction_remove``,
    ``thread_create``, ``dm_open``, ``callback`` (interaction response),
    ``followup``, ``original_edit``, ``original_delete``, ``followup_edit``,
    ``followup_delete``, ``commands_sync``. Rejected requests are recorded too, with
    ``status`` >= 400, so a test can see the attempt; waiting helpers skip them
    unless asked.
    """

    kind: str
    method: str
    path: str
    payload: Any
    files: tuple[UploadedFile, ...] = ()
    status: int = 200
    at: float = field(default_factory=time.monotonic)
    channel_id: str | None = None
    guild_id: str | None = None
    message_id: str | None = None
    interaction_id: str | None = None
    token: str | None = None
    callback_type: int | None = None
    message: JSON | None = None  # the resulting message (as the fake answered it)

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def body(self) -> JSON:
        """The message-like part: ``data`` of a callback, else the payload itself."""
        if self.kind == "callback":
            data = (self.payload or {}).get("data")
            return data if isinstance(data, dict) else {}
        return self.payload if isinstance(self.payload, dict) else {}

    @property
    def content(self) -> str | None:
        content = self.body.get("content")
        return content if isinstance(content, str) else None

    @property
    def embeds(self) -> list[JSON]:
        return list(self.body.get("embeds") or [])

    @property
    def components(self) -> list[JSON]:
        return list(self.body.get("components") or [])

    @property
    def flags(self) -> int:
        return int(self.body.get("flags") or 0)

    @property
    def allowed_mentions(self) -> JSON | None:
        value = self.body.get("allowed_mentions")
        return value if isinstance(value, dict) else None


class NotDelivered(AssertionError):
    """Waiting on a message the fake never dispatched (the bot lacked the intent)."""


async def wait_until(
    predicate: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT, what: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError after.

    Polling (rather than futures) keeps waiting simple across the two event loops:
    the fake's server loop records, the test's loop (where the bot runs) waits.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        await asyncio.sleep(POLL_INTERVAL)


class ActionStream:
    """A cursor over the fake's actions that match a filter.

    ``next()`` returns matching actions one at a time, in arrival order, so a test
    reads the bot's behaviour like a transcript.
    """

    def __init__(
        self,
        fake: FakeDiscord,
        matches: Callable[[Action], bool],
        label: str,
        *,
        start: int = 0,
    ) -> None:
        self._fake = fake
        self._matches = matches
        self._label = label
        self._start = start
        self._position = start  # index into fake's action log of the next unread action

    @property
    def actions(self) -> list[Action]:
        """Every matching action since the stream started (read or not)."""
        return [a for a in self._fake.actions[self._start :] if self._matches(a)]

    def _find(self, kinds: tuple[str, ...], include_rejected: bool) -> Action | None:
        log = self._fake.actions
        for index in range(self._position, len(log)):
            action = log[index]
            if not self._matches(action):
                continue
            if kinds and action.kind not in kinds:
                continue
            if not include_rejected and not action.ok:
                continue
            self._position = index + 1
            return action
        return None

    async def next(
        self,
        *kinds: str,
        timeout: float = DEFAULT_TIMEOUT,
        include_rejected: bool = False,
    ) -> Action:
        """The next unread action of one of ``kinds`` (any kind if none given).

        Actions of other kinds are skipped past.
        """
        label = f"{'/'.join(kinds) or 'any action'} for {self._label}"
        try:
            result: Action = await wait_until(
                lambda: self._find(kinds, include_rejected), timeout=timeout, what=label
            )
        except TimeoutError as exc:
            self._explain(exc)
            raise
        return result

    def _explain(self, exc: TimeoutError) -> None:
        # Make a timeout actionable: say what did happen instead.
        seen = ", ".join(f"{a.kind}({a.status})" for a in self.actions) or "nothing"
        exc.args = (f"{exc.args[0]}; seen so far: {seen}",)

    async def expect_nothing(self, within: float = 0.3, *kinds: str) -> None:
        """Assert that no further (matching) action arrives within ``within`` seconds."""
        await asyncio.sleep(within)
        extra = self._find(kinds, include_rejected=True)
        if extra is not None:
            raise AssertionError(f"expected no action for {self._label}, got {extra.kind}: {extra}")


class InteractionHandle(ActionStream):
    """What ``FakeDiscord.send_command`` and friends return.

    ``await handle.next("callback")`` then ``await handle.next("followup")``...
    """

    def __init__(self, fake: FakeDiscord, payload: JSON, *, start: int = 0) -> None:
        self.payload = payload
        self.id: str = payload["id"]
        self.token: str = payload["token"]
        super().__init__(
            fake, lambda a: a.token == self.token, f"interaction {self.id}", start=start
        )

    async def callback(self, timeout: float = DEFAULT_TIMEOUT) -> Action:
        """The first accepted callback (the interaction's initial response)."""
        result: Action = await wait_until(
            lambda: next((a for a in self.actions if a.kind == "callback" and a.ok), None),
            timeout=timeout,
            what=f"a callback for interaction {self.id}",
        )
        return result

    @property
    def original(self) -> JSON | None:
        """The current state of the original response message, if there is one."""
        return self._fake.original_message(self.token)


class MessageHandle(ActionStream):
    """What ``FakeDiscord.send_message`` returns: actions in that channel.

    Also matches actions in a thread started from this message, so "reply in a new
    thread" bots read naturally.
    """

    def __init__(
        self, fake: FakeDiscord, message: JSON, *, delivered: bool, why: str, start: int = 0
    ) -> None:
        self.message = message
        self.delivered = delivered
        self.why_not_delivered = why
        self.channel_id: str = message["channel_id"]
        message_id: str = message["id"]
        super().__init__(
            fake,
            lambda a: a.channel_id in (self.channel_id, message_id),
            f"message {message_id} in channel {self.channel_id}",
            start=start,
        )

    def _explain(self, exc: TimeoutError) -> None:
        super()._explain(exc)
        if not self.delivered:
            raise NotDelivered(
                f"{exc.args[0]}; the fake never dispatched this message to the bot: "
                f"{self.why_not_delivered}"
            ) from exc
