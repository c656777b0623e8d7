"""Drivers: the self-review, returning a review, the meeting date."""

from __future__ import annotations

from storage.models import Meeting, ReviewPiece, SelfReview
from tests.e2e.flows import Reached, World, answer_of, ask


async def self_review_write(world: World) -> Reached:
    dung = world.user("DV104")  # her review is a draft, at its preview
    await ask(dung, "/kiem_diem")  # the greeting, then the preview
    prompt = await dung.wait_message()
    member_id = world.tree.member_ids["DV104"]

    async def snapshot():
        reviews = await world.rows(SelfReview, SelfReview.member_id == member_id)
        pieces = await world.rows(ReviewPiece, ReviewPiece.review_id.in_([r[0] for r in reviews]))
        return reviews, pieces

    return Reached(dung, prompt, snapshot)


async def return_review_reason(world: World) -> Reached:
    an = world.user("DV101")  # the secretary of CB11
    listing = await ask(an, "/kiem_diem_chi_bo")
    opened = await answer_of(an, "📄 Lê Văn Cường", listing)
    prompt = await answer_of(an, "↩️ Trả lại để sửa", opened)
    member_id = world.tree.member_ids["DV103"]
    return Reached(an, prompt, lambda: world.rows(SelfReview, SelfReview.member_id == member_id))


async def meeting_date(world: World) -> Reached:
    an = world.user("DV101")
    prompt = await ask(an, "/lich_hop")
    cell_id = world.tree.org_ids["CB11"]
    return Reached(an, prompt, lambda: world.rows(Meeting, Meeting.org_id == cell_id))


DRIVERS = {
    ("self_review", "write"): self_review_write,
    ("return_review", "reason"): return_review_reason,
    ("meeting_date", "date"): meeting_date,
}
