"""pytest plugin: ``fake_telegram`` fixture and the ``allow_refused`` marker.

Enable with ``pytest_plugins = ["tests.fakebot.plugin"]`` in a conftest (or ``-p tests.fakebot.plugin``).
At teardown the fixture fails the test (as a teardown error) if the bot made a call the real
Bot API would refuse (``fake.refused``) or left a callback query unanswered, and prints the
transcript. Mark tests that provoke refusals on purpose with ``@pytest.mark.allow_refused``
and tests that leave callbacks unanswered on purpose with ``@pytest.mark.allow_unanswered``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .server import FakeTelegram


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_refused: the test provokes Bot API calls the fake refuses on purpose")
    config.addinivalue_line(
        "markers", "allow_unanswered: the test leaves callback queries unanswered on purpose")


@pytest_asyncio.fixture
async def fake_telegram(request: pytest.FixtureRequest) -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    try:
        yield fake
        if not fake.bots_gone():  # a bot in another process may still be calling
            try:
                await fake.wait_idle(quiet=0.1, timeout=2)
            except AssertionError:
                pass
    finally:
        await fake.stop()
    report = fake_telegram_problems(
        fake,
        allow_refused=request.node.get_closest_marker("allow_refused") is not None,
        allow_unanswered=request.node.get_closest_marker("allow_unanswered") is not None,
    )
    if report:
        pytest.fail(report, pytrace=False)


def fake_telegram_problems(fake: FakeTelegram, *, allow_refused: bool = False,
                           allow_unanswered: bool = False) -> str | None:
    """The teardown report of ``fake_telegram`` (None when all is well)."""
    problems = []
    if fake.refused and not allow_refused:
        problems.append("the bot made calls the real Bot API would refuse:\n"
                        + "\n".join(f"  {c!r}" for c in fake.refused))
    unanswered = fake.unanswered_callbacks()
    if unanswered and not allow_unanswered:
        problems.append("callback queries never answered with answerCallbackQuery:\n"
                        + "\n".join(f"  {c!r}" for c in unanswered))
    if not problems:
        return None
    return "\n".join(problems) + "\n" + fake.transcript()
