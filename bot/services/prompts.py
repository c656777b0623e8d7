"""Review prompts (gợi ý kiểm điểm, DOMAIN §6 part IV): written points an upper level sends a
member to address in their self-review. Stored per cycle and member, shown in part IV of the
member's form and of its Word file. The text is never logged nor put in the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Cycle, Member, Organisation, ReviewPrompt

PROMPT_MAX = 3000  # characters: a Telegram message holds the command, the code and this


@dataclass(frozen=True)
class Prompt:
    org_name: str
    text: str


async def add_prompt(
    session: AsyncSession, cycle: Cycle, member: Member, org: Organisation, text: str, *,
    actor: str,
) -> ReviewPrompt:
    prompt = ReviewPrompt(cycle_id=cycle.id, member_id=member.id, org_id=org.id, text=text,
                          sent_by=actor)
    session.add(prompt)
    session.add(AuditEntry.record(actor, "review.prompt", "member", member.code,
                                  year=cycle.year, org=org.code, characters=len(text)))
    await session.flush()
    return prompt


async def prompts_for(session: AsyncSession, cycle_id: int, member_id: int) -> list[Prompt]:
    """The member's prompts of the cycle, oldest first."""
    rows = await session.execute(
        select(Organisation.name, ReviewPrompt.text)
        .join(Organisation, ReviewPrompt.org_id == Organisation.id)
        .where(ReviewPrompt.cycle_id == cycle_id, ReviewPrompt.member_id == member_id)
        .order_by(ReviewPrompt.id)
    )
    return [Prompt(name, text) for name, text in rows]
