"""Where each user stands in a flow (conversations/engine.py): one row per user."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FlowState


async def load(session: AsyncSession, telegram_id: int) -> FlowState | None:
    return await session.get(FlowState, telegram_id)


async def load_or_new(session: AsyncSession, telegram_id: int) -> FlowState:
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
