"""The meeting's and the ballot's declared flows (DOMAIN §7); the handlers are in
``handlers/ballot.py``.

- ``meeting`` (``/hop``): the secretary's meeting screen, ``attendance`` (one button per
  member) then, on 🧮, ``committee`` (the counting committee), and back. Every press is saved
  at once, so leaving keeps what was taken. The screen stays while rounds are voted: a round
  that cannot open (a share not delivered) sends the secretary back to 🧮. Issue 14 adds
  ``order`` (the meeting's order, R-D3: the collectives reviewed first) and ``scoring`` (the
  members scoring the organisation), shown in the same message (handlers/unit_meeting.py,
  handlers/unit_scoring.py).
- ``round_close``: closing a round by hand is irreversible, so ``confirm`` shows who has not
  voted and waits for "✅ Xác nhận" (re-checked when pressed) or "✖ Hủy".

A voter's ballot is not a flow: its choices must never be written to the database, so they
stay in the ballot message's buttons and in the process memory (``handlers/ballot.py``).
The payloads here hold a meeting or a round id, nothing else.
"""

from __future__ import annotations

from bot.i18n import N_
from conversations import engine as flows
from handlers.base import Turn

MEETING = flows.declare(
    flows.Flow(
        "meeting",
        N_("taking the meeting's attendance"),
        (
            flows.Step("attendance"),
            flows.Step("committee"),
            flows.Step("order"),
            flows.Step("scoring"),
        ),
        entry=("hop",),
        kept=N_("The attendance and the counting committee are saved; /hop shows them again."),
    )
)
ROUND_CLOSE = flows.declare(
    flows.Flow(
        "round_close",
        N_("closing the ballot round"),
        (flows.Step("confirm"),),
        entry=("bo_phieu",),
        kept=N_("The round stays open."),
    )
)


async def meeting_step(turn: Turn, step: str) -> None:
    """The meeting screen shows `step` in place: the flow moves there and the pressed
    message stays its prompt (so leaving still removes its buttons)."""
    state = await flows.active(turn, MEETING)
    if state is None or state.step == step:
        return
    kept = state.prompt_chat_id, state.prompt_message_id
    await flows.move(turn, state, step)
    state.prompt_chat_id, state.prompt_message_id = kept
