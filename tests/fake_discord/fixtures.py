"""pytest fixtures for the fake Discord; import them into a conftest or a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeDiscord


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """A started :class:`FakeDiscord` with the default world.

    The test fails at teardown if the bot broke any rule that the test did not
    consume with ``expect_breach`` / ``take_breaches`` / ``clear_breaches``.
    """
    fake = FakeDiscord().start()
    try:
        yield fake
    finally:
        fake.stop()
    breaches = fake.breaches
    if breaches:
        lines = "\n".join(f"  - {breach}" for breach in breaches)
        pytest.fail(f"the bot broke {len(breaches)} Discord rule(s):\n{lines}", pytrace=False)
