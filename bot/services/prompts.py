"""Review prompts (gợi ý kiểm điểm, DOMAIN §6 part IV): written points an upper level sends a
member to address in their self-review. Stored per cycle and member, shown in part IV of the
member's form and of its Word file. The text is never logged nor put in the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import ReviewPrompt

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


# --- Issue 14, part A: points for a collective (gợi ý kiểm điểm đối với tập thể) -----------


async def add_unit_prompt(
    session: AsyncSession, cycle: Cycle, subject_org: Organisation, subjects: Sequence[str],
    org: Organisation, text: str, *, actor: str,
) -> list[ReviewPrompt]:
    """Points sent to a unit's collective: one row per reviewed subject of the unit (the
    organisation, and its committee where rated), so each report answers them."""
    rows = [
        ReviewPrompt(cycle_id=cycle.id, member_id=None, org_id=org.id,
                     subject_org_id=subject_org.id, subject=subject, text=text, sent_by=actor)
        for subject in subjects
    ]
    session.add_all(rows)
    session.add(AuditEntry.record(actor, "review.prompt", "organisation", subject_org.code,
                                  year=cycle.year, org=org.code, subjects=list(subjects),
                                  characters=len(text)))
    await session.flush()
    return rows


async def unit_prompts(
    session: AsyncSession, cycle_id: int, org_id: int, subject: str
) -> list[Prompt]:
    """The points sent to one collective of a unit in the cycle, oldest first."""
    rows = await session.execute(
        select(Organisation.name, ReviewPrompt.text)
        .join(Organisation, ReviewPrompt.org_id == Organisation.id)
        .where(ReviewPrompt.cycle_id == cycle_id, ReviewPrompt.subject_org_id == org_id,
               ReviewPrompt.subject == subject)
        .order_by(ReviewPrompt.id)
    )
    return [Prompt(name, text) for name, text in rows]


async def unit_is_prompted(
    session: AsyncSession, cycle_id: int, org_id: int, member_ids: Select
) -> bool:
    """R-D4: whether the upper level sent points to the unit's collective, or to one of the
    members its meeting reviews (`member_ids`, a select of their ids), in the cycle."""
    found = await session.scalar(
        select(ReviewPrompt.id)
        .where(ReviewPrompt.cycle_id == cycle_id,
               or_(ReviewPrompt.subject_org_id == org_id,
                   ReviewPrompt.member_id.in_(member_ids)))
        .limit(1)
    )
    return found is not None
