"""Where each user stands in a flow (conversations/engine.py): one row per user."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.models import FlowState

# session.info: users found without a flow state in this session (``accounts.arrive`` reads
# the state with the account, so the lookup of most updates asks the database nothing).
_ABSENT = "flow_states.absent"


def known_absent(session: AsyncSession, telegram_id: int) -> None:
    session.info.setdefault(_ABSENT, set()).add(telegram_id)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_over(session: Session) -> None:
    session.info.pop(_ABSENT, None)  # what another transaction did since may be there now


async def load(session: AsyncSession, telegram_id: int) -> FlowState | None:
    if telegram_id in session.info.get(_ABSENT, ()):
        return None
    return await session.get(FlowState, telegram_id)


async def load_or_new(session: AsyncSession, telegram_id: int) -> FlowState:
    session.info.get(_ABSENT, set()).discard(telegram_id)
    state = await session.get(FlowState, telegram_id)
    if state is None:
        state = FlowState(telegram_id=telegram_id)
        session.add(state)
    return state


async def forget(session: AsyncSession, state: FlowState) -> None:
    await session.delete(state)


async def prompt_sent(
    session: AsyncSession, telegram_id: int, flow: str, message_id: int
) -> None:
    """Record the latest prompt of the user's flow, whose buttons go when its step is over."""
    state = await session.get(FlowState, telegram_id)
    if state is not None and state.flow == flow:
        state.prompt_chat_id, state.prompt_message_id = telegram_id, message_id
