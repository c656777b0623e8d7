"""The meeting's and the secret ballot's screens (DOMAIN §7): pure functions of a translator
and the service's views that return text (and a keyboard); no Telegram call, no database.

Every button of the meeting and the ballot is a typed, versioned `ButtonData` here. A voter's
choice exists only in the data of the button pressed and in the process memory: what the
database keeps of a press (the intake's copy) has the choice, or a committee member's key
share, replaced by `REDACTED` (`redact_vote`, `redact_key`).
"""

from __future__ import annotations

import typing
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services import ballot as service
from bot.services.ballot import BLANK
from bot.services.ballot import CHOICES
from bot.services.ballot import ReceiptCheck
from bot.services.ballot import RoundResult
from bot.services.ballot import RoundView
from bot.services.ballot_box import Share
from bot.services.ballot_box import key_id
from bot.services.ballot_rounds import Press
from bot.services.unit_ballot import UNITS
from bot.services.unit_ballot import UnitCandidate
from bot.text import esc
from rules.ballot import needed
from rules.levels import Level
from rules.people import Presence
from rules.people import name_sort_key
from rules.rulebooks import CountingRule
from rules.rulebooks import DenominatorRule
from storage.models import BallotRound
from storage.models import Member
from storage.models import TelegramAccount

# The commands' descriptions, listed by handlers/commands.py.
HOP = (
    N_("Open the cell meeting, attendance"),
    N_(
        "/hop [code]: open your cell's review meeting and take the attendance; "
        "I show the denominator and whether there is a quorum"
    ),
)
BO_PHIEU = (
    N_("Open a secret ballot round"),
    N_(
        "/bo_phieu [code]: open a secret ballot round; every official member present gets "
        "their ballot in a private message, and you follow who has voted"
    ),
)
PHIEU = (
    N_("Your ballot in an open round"),
    N_("/phieu: get your ballot again if a secret ballot round is open for you"),
)
KIEM_TRA_PHIEU = (
    N_("Check a ballot receipt"),
    N_("/kiem_tra_phieu CODE: check that the ballot with this receipt code was counted"),
)

REDACTED = "x"  # what the database keeps in place of a choice or a key share
EDIT_CHOICE, CAST = "edit", "ok"


class MeetingButton(ButtonData, prefix="hop"):
    """The meeting screen: a member's presence (p, value: the member), everyone present (all),
    the counting committee (cm), a member in or out of it (ct, value: the member), how many
    presses open the box (ck, value: that number), back to the attendance (back)."""

    action: Literal["p", "all", "cm", "ct", "ck", "back"]
    meeting_id: int
    value: int | None = None


class OpenButton(ButtonData, prefix="bs"):
    """Open a round of the meeting: the first (open), the undecided again (next), the members
    whose proposals break a rule again (revote); a round on the collectives' levels (units,
    issue 14: the first, or the undecided again)."""

    action: Literal["open", "next", "revote", "units"]
    meeting_id: int


class CloseButton(ButtonData, prefix="bc"):
    """The secretary closes a round: asked (close), then confirmed (yes)."""

    action: Literal["close", "yes"]
    round_id: int


VoteChoice = Literal["HTXS", "HTT", "HT", "KHT", "BLANK", "edit", "ok", "x"]
assert set(CHOICES) <= set(typing.get_args(VoteChoice))


class VoteButton(ButtonData, prefix="bv"):
    """A voter's press: a choice for the candidate at `position`, "edit" (change it), or
    "ok" (cast, no position); "x" is a choice cut out of the stored copy."""

    round_id: int
    position: int | None
    choice: VoteChoice


class KeyButton(ButtonData, prefix="bk"):
    """A committee member's "🔓 Mở hòm phiếu": their key share and the key it belongs to."""

    round_id: int
    index: int
    share: str
    key: str


def redact_vote(data: str) -> str:
    """What the database may keep of a voter's press: never the choice."""
    head, *parts = data.split(":")
    if len(parts) == 3 and parts[2] in (EDIT_CHOICE, CAST):
        return data
    if len(parts) == 3:
        return ":".join([head, parts[0], parts[1], REDACTED])
    return f"{head}:{REDACTED}"


def redact_key(data: str) -> str:
    """What the database may keep of a committee member's press: never the share."""
    head, *parts = data.split(":")
    if len(parts) == 4:
        return ":".join([head, parts[0], parts[1], REDACTED, parts[3]])
    return f"{head}:{REDACTED}"


MAX_NAMES_SHOWN = 60


EDIT_BUTTONS_PER_ROW = 5


PRESENCE_MARKS = {Presence.PRESENT: "✅", Presence.ABSENT_EXCUSED: "🟡", Presence.ABSENT: "❌"}


def _units():
    """The screens of a round of kind "units" (issue 14), which build on this module."""
    from handlers.views import unit_ballot

    return unit_ballot


def _of_units(view: RoundView) -> bool:
    return view.round.kind == UNITS


def candidate_name(t: Translator, candidate) -> str:
    """A candidate as the ballot names it (plain text): a member, or a collective."""
    if isinstance(candidate, UnitCandidate):
        return _units().candidate_name(t, candidate)
    return candidate.full_name


def choice_label(t: Translator, choice: str | None) -> str:
    if choice is None:
        return "…"
    return t("blank") if choice == BLANK else choice


def names(members: list[Member], t: Translator) -> str:
    members = sorted(members, key=lambda m: name_sort_key(m.full_name))
    shown = [esc(m.full_name) for m in members[:MAX_NAMES_SHOWN]]
    more = len(members) - len(shown)
    if more > 0:
        shown.append(t("and {count} more", count=more))
    return ", ".join(shown)


def committee_line(t: Translator, committee: service.Committee) -> str:
    if not committee.members:
        return t("Counting committee: nobody yet; name it with 🧮 before opening the ballot.")
    return t(
        "Counting committee: {names}; {k} of {n} open the ballot box.",
        names=names(committee.members, t),
        k=committee.threshold,
        n=committee.size,
    )


def meeting_text(
    t: Translator,
    state: service.MeetingState,
    open_round: BallotRound | None,
    committee: service.Committee,
) -> str:
    title = t("Review meeting of {org}, {year}", org=state.cell.name, year=state.cycle.year)
    lines = [
        f"<b>{esc(title)}</b>",
        t(
            "Attendance: press a name to change it "
            "(✅ present → 🟡 absent with an accepted excuse → ❌ absent)."
        ),
        "",
        t(
            "Present: {present} of {total} members; official members present, who vote: {voters}.",
            present=state.present_total(),
            total=len(state.members),
            voters=len(state.voters()),
        ),
    ]
    denominator = state.denominator()
    if state.rulebook.denominator_rule is DenominatorRule.BALLOTS_CAST:
        lines.append(t("Denominator for “more than half”: the number of ballots cast."))
    else:
        lines.append(
            t(
                "Denominator: {denominator}; more than half means at least {needed} votes.",
                denominator=denominator,
                needed=needed(denominator),
            )
        )
    if state.quorum():
        lines.append(
            t(
                "Members present: enough ({present}/{denominator}, two thirds needed).",
                present=state.present_counted(),
                denominator=denominator,
            )
        )
    else:
        lines.append(
            t(
                "Members present: not enough ({present}/{denominator}, two thirds needed).",
                present=state.present_counted(),
                denominator=denominator,
            )
        )
    lines.append(t("To be rated at this meeting: {count}.", count=len(state.candidates())))
    lines.append(committee_line(t, committee))
    if open_round is not None:
        lines.append(t("Ballot round {number} is open.", number=open_round.number))
    return "\n".join(lines)


def meeting_keyboard(
    t: Translator,
    state: service.MeetingState,
    extra: list[list[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup:
    """The attendance, the committee, `extra` rows (the order of the meeting, issue 14) and
    the ballot."""
    meeting_id = state.meeting.id
    rows = [
        [
            InlineKeyboardButton(
                f"{PRESENCE_MARKS[state.presence[m.id]]} {m.full_name}",
                callback_data=MeetingButton("p", meeting_id, m.id).encode(),
            )
        ]
        for m in state.members
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t("✅ Everyone present"), callback_data=MeetingButton("all", meeting_id).encode()
            )
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t("🧮 Counting committee"), callback_data=MeetingButton("cm", meeting_id).encode()
            )
        ]
    )
    rows += [list(row) for row in extra]
    rows.append(
        [
            InlineKeyboardButton(
                t("🗳 Open the secret ballot"), callback_data=OpenButton("open", meeting_id).encode()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def committee_text(t: Translator, state: service.MeetingState, committee: service.Committee) -> str:
    title = t("Counting committee of {org}", org=state.cell.name)
    return "\n".join(
        [
            f"🧮 <b>{esc(title)}</b>",
            "",
            t(
                "Each member of the committee gets one share of the key of the ballot box in a "
                'private message, on a "🔓 Mở hòm phiếu" button. After voting ends, the box is '
                "opened when enough of them press it; nobody, the secretary and the bot's "
                "operators included, can read a ballot before that."
            ),
            t(
                "Press a name to add or remove them, and set how many presses open the box. A "
                "share that is lost (a deleted message, a lost phone) cannot be replaced: if "
                "fewer members than that are left, the round is voted again, as with a spoilt "
                "ballot box."
            ),
            "",
            committee_line(t, committee),
        ]
    )


def committee_keyboard(
    t: Translator, state: service.MeetingState, committee: service.Committee
) -> InlineKeyboardMarkup:
    meeting_id = state.meeting.id
    chosen = {m.id for m in committee.members}
    rows = [
        [
            InlineKeyboardButton(
                f"{'☑' if m.id in chosen else '☐'} {m.full_name}",
                callback_data=MeetingButton("ct", meeting_id, m.id).encode(),
            )
        ]
        for m in state.members
        if state.presence.get(m.id) is Presence.PRESENT
    ]
    if committee.size > 1:
        rows.append(
            [
                InlineKeyboardButton(
                    t("{k} of {n}", k=k, n=committee.size)
                    + (" ✓" if k == committee.threshold else ""),
                    callback_data=MeetingButton("ck", meeting_id, k).encode(),
                )
                for k in range(1, committee.size + 1)
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                t("⬅ Back"), callback_data=MeetingButton("back", meeting_id).encode()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def why_unreachable(t: Translator, account: TelegramAccount | None) -> str:
    """Why nothing is sent to a member (known before sending)."""
    if account is not None and account.blocked_at is not None:
        return t("has blocked the bot")
    return t("has not started the bot or linked their account")


def undelivered(t: Translator, blocked: bool) -> str:
    """Why a message Telegram refused did not reach a member."""
    return t("has blocked the bot") if blocked else t("cannot be reached on Telegram")


def _missing_lines(missing: list[tuple[Member, str]]) -> list[str]:
    return [f"• {esc(member.full_name)}: {reason}" for member, reason in missing]


def replace_tellers_text(t: Translator, missing: list[tuple[Member, str]]) -> str:
    lines = [
        t(
            "The round was not opened: I could not give their share of the ballot box key to "
            "{count} members of the counting committee:",
            count=len(missing),
        )
    ]
    lines += _missing_lines(missing)
    lines += [
        "",
        t(
            "Replace them in the counting committee (/hop, 🧮), or ask them to start the bot, "
            "then open the round again."
        ),
    ]
    return "\n".join(lines)


def unreachable_voters_text(t: Translator, missing: list[tuple[Member, str]]) -> str:
    """For the secretary: the voters the ballot did not reach, and what to do."""
    lines = [t("I could not send the ballot to {count} voters:", count=len(missing))]
    lines += _missing_lines(missing)
    lines += [
        "",
        t(
            "Send them their invite link (/moi). Once they have started the bot, they send "
            "/phieu to get their ballot."
        ),
    ]
    return "\n".join(lines)


def box_call_text(t: Translator, view: RoundView) -> str:
    """For each member of the counting committee, when voting has ended."""
    return t(
        "Voting has ended in round {number} of {org}. As a member of the counting "
        'committee, press "🔓 Mở hòm phiếu" on the message with your key share: the box '
        "opens when {k} of {n} have pressed.",
        number=view.round.number,
        org=esc(view.cell.name),
        k=view.round.threshold,
        n=len(view.tellers),
    )


def key_in_text(t: Translator, press: Press) -> str:
    """For a committee member whose key is in, while more are needed."""
    return t(
        "Your key is in. {count} of {k} needed; waiting for: {names}.",
        count=press.count,
        k=press.threshold,
        names=names(press.waiting, t),
    )


def presses_text(t: Translator, view: RoundView, press: Press) -> str:
    """For the secretary: how many keys are in."""
    return t(
        "Ballot box of round {number}: {count} of the {k} presses needed; not pressed yet: "
        "{names}.",
        number=view.round.number,
        count=press.count,
        k=press.threshold,
        names=names(press.waiting, t),
    )


def not_opened_text(t: Translator, number: int) -> str:
    """For the secretary, at start-up: a round a crash left half-opened was removed."""
    return t(
        "Ballot round {number} did not open: the bot restarted while it was handing "
        "out the keys of the ballot box. Open it again with /bo_phieu.",
        number=number,
    )


def share_text(t: Translator, view: RoundView) -> str:
    title = t("Counting committee: your key to the ballot box")
    where = t("{org}, round {number}", org=view.cell.name, number=view.round.number)
    return "\n".join(
        [
            f"🔑 <b>{esc(title)}</b> — {esc(where)}",
            "",
            t(
                "You are on the counting committee. The button below holds your share of the "
                "key of the ballot box; the bot does not keep it. After voting ends, press it: "
                "the box opens when {k} of the {n} members have pressed.",
                k=view.round.threshold,
                n=len(view.tellers),
            ),
            t(
                "Do not delete this message. If fewer than {k} shares are left, the round has "
                "to be voted again.",
                k=view.round.threshold,
            ),
        ]
    )


def share_keyboard(t: Translator, view: RoundView, share: Share) -> InlineKeyboardMarkup:
    data = KeyButton(
        view.round.id, share.index, share.encode(), key_id(view.round.public_key)
    ).encode()
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("🔓 Open the ballot box"), callback_data=data)]]
    )


def header(t: Translator, view: RoundView, *, progress: bool = False) -> str:
    title = t("Secret ballot: progress") if progress else t("Secret ballot")
    where = t("{org}, round {number}", org=view.cell.name, number=view.round.number)
    return f"🗳 <b>{esc(title)}</b> — {esc(where)}"


def ballot_screen(
    t: Translator,
    view: RoundView,
    choices: dict[int, str],
    position: int | None,
    *,
    note: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The candidate at `position`, or the summary when `position` is None."""
    round_id = view.round.id
    lines = [header(t, view)]
    if note:
        lines += ["", f"<i>{esc(note)}</i>"]
    if position is None:
        lines += ["", t("Your choices:")]
        for index, (candidate, member) in enumerate(view.candidates, start=1):
            choice = choice_label(t, choices.get(candidate.position))
            lines.append(f"{index}. {esc(candidate_name(t, member))}: <b>{esc(choice)}</b>")
        lines += [
            "",
            t(
                "Press a number to change that choice, or confirm to cast your ballot. "
                "Once cast, it cannot be changed."
            ),
        ]
        buttons = [
            InlineKeyboardButton(
                f"✏ {index}",
                callback_data=VoteButton(round_id, candidate.position, EDIT_CHOICE).encode(),
            )
            for index, (candidate, _member) in enumerate(view.candidates, start=1)
        ]
        rows = [
            buttons[i : i + EDIT_BUTTONS_PER_ROW]
            for i in range(0, len(buttons), EDIT_BUTTONS_PER_ROW)
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    t("✅ Cast my ballot"), callback_data=VoteButton(round_id, None, CAST).encode()
                )
            ]
        )
        return "\n".join(lines), InlineKeyboardMarkup(rows)
    index = next(i for i, (c, _m) in enumerate(view.candidates) if c.position == position)
    member = view.candidates[index][1]
    if _of_units(view):
        lines += ["", *_units().heading(t, view, index, member), ""]
    else:
        lines += [
            "",
            t(
                "Member {index} of {count}: {name}",
                index=index + 1,
                count=len(view.candidates),
                name=f"<b>{esc(member.full_name)}</b>",
            ),
            "",
        ]
    lines += [f"<b>{level.value}</b>: {esc(t(level.name_msgid))}" for level in Level]
    if position in choices:
        lines += [
            "",
            t("Your current choice: {choice}", choice=esc(choice_label(t, choices[position]))),
        ]
    lines += [
        "",
        t(
            "Choose one level, or leave it blank. Your ballot is cast only when you confirm "
            "at the end; nobody can see what you choose."
        ),
    ]

    def button(label: str, choice: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            label, callback_data=VoteButton(round_id, position, choice).encode()
        )

    rows = [
        [button(Level.HTXS.value, Level.HTXS.value), button(Level.HTT.value, Level.HTT.value)],
        [button(Level.HT.value, Level.HT.value), button(Level.KHT.value, Level.KHT.value)],
        [button(t("Leave blank"), BLANK)],
    ]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def cast_screen(t: Translator, view: RoundView, code: str) -> str:
    shown = service.show_receipt(code)
    return "\n".join(
        [
            header(t, view),
            "",
            "✅ " + t("Your ballot has been cast."),
            t("Receipt code: {code}", code=f"<code>{shown}</code>"),
            "",
            t(
                "The code is the fingerprint of your sealed ballot. When the counting committee "
                "opens the box, the codes of all counted ballots are published; send "
                "/kiem_tra_phieu {code} to check yours. It says nothing about your choices, and "
                "I do not keep it next to your name: keep this message (/phieu finds it again).",
                code=shown,
            ),
        ]
    )


def progress_screen(t: Translator, view: RoundView) -> tuple[str, InlineKeyboardMarkup | None]:
    total = len(view.voters)
    lines = [header(t, view, progress=True), ""]
    if view.voting:
        if _of_units(view):
            lines.append(_units().open_line(t, view))
        elif view.round.denominator is None:
            lines.append(
                t(
                    "Open. Members to rate: {count}. Denominator: the ballots cast.",
                    count=len(view.candidates),
                )
            )
        else:
            lines.append(
                t(
                    "Open. Members to rate: {count}. Denominator: {denominator}.",
                    count=len(view.candidates),
                    denominator=view.round.denominator,
                )
            )
        voted = t("{voted}/{total} have voted", voted=view.voted, total=total)
        lines.append(f"<b>{esc(voted)}</b>")
        if view.waiting:
            lines.append(t("Not voted yet: {names}", names=names(view.waiting, t)))
        lines += [
            "",
            t(
                "The ballots are sealed: nobody can read them until the counting committee "
                "opens the box after voting ends."
            ),
        ]
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t("🔒 Close the round"),
                        callback_data=CloseButton("close", view.round.id).encode(),
                    )
                ]
            ]
        )
        return "\n".join(lines), markup
    if view.sealed:
        lines.append(
            t(
                "Voting has ended: {voted}/{total} voted. The box is sealed until {k} of the "
                "counting committee ({names}) press 🔓 in their private chat.",
                voted=view.voted,
                total=total,
                k=view.round.threshold or 1,
                names=names(view.tellers, t),
            )
        )
        return "\n".join(lines), None
    lines.append(
        t("Closed: {voted}/{total} voted. The results follow.", voted=view.voted, total=total)
    )
    return "\n".join(lines), None


RULE_NAMES = {
    CountingRule.CUMULATIVE: N_(
        "Counting: cumulative from the top, a vote for a level also agrees with every lower "
        "one."
    ),
    CountingRule.PLURALITY: N_("Counting: only the votes at each exact level."),
    CountingRule.STRICT_2011: N_("Counting: by the 2011 guidance, HTXS needs two thirds."),
}


def results_text(t: Translator, result: RoundResult) -> str:
    view = result.view
    title = t("Results of the secret ballot")
    where = t("{org}, round {number}", org=view.cell.name, number=view.round.number)
    lines = [
        f"📊 <b>{esc(title)}</b> — {esc(where)}",
        "",
        t(
            "Ballots cast: {cast} of {voters}. Denominator: {denominator}; more than half means "
            "at least {needed} votes.",
            cast=result.cast,
            voters=len(view.voters),
            denominator=result.denominator,
            needed=needed(result.denominator),
        ),
        t(RULE_NAMES[result.rule]),
        "",
    ]
    for index, outcome in enumerate(result.results, start=1):
        counts = " · ".join(f"{choice_label(t, code)} {outcome.counts[code]}" for code in CHOICES)
        decision = outcome.decision
        if decision is None or decision.undecided:
            verdict = t("no decision: vote again")
        else:
            verdict = decision.level.value
        name = candidate_name(t, outcome.member)
        lines.append(f"{index}. <b>{esc(name)}</b>: {counts} → <b>{esc(verdict)}</b>")
    if result.undecided:
        undecided = ", ".join(esc(candidate_name(t, c)) for c in result.undecided)
        lines += [
            "",
            t(
                "No level has more than half of the votes for: {names}. The cell votes again on "
                "them in another round.",
                names=undecided if _of_units(view) else names(result.undecided, t),
            ),
        ]
    if _of_units(view):
        lines += _units().results_note(t, result)
    return "\n".join(lines)


def receipts_text(t: Translator, result: RoundResult) -> str | None:
    """The published receipt codes, in a message of their own after the results (a list
    of codes is long on a phone), or None when no ballot was counted."""
    if not result.receipts:
        return None
    where = t("{org}, round {number}", org=result.view.cell.name, number=result.view.round.number)
    title = t("Receipt codes of the {count} counted ballots:", count=len(result.receipts))
    codes = ", ".join(f"<code>{service.show_receipt(code)}</code>" for code in result.receipts)
    check = t("Send /kiem_tra_phieu followed by your code to check that your ballot was counted.")
    return "\n".join([f"🧾 <b>{esc(title)}</b> — {esc(where)}", "", codes, "", check])


RECEIPT_SEALED = N_(
    "The ballot with the receipt code {code} is sealed in the ballot box of round {number} of "
    "{org}, which is not opened yet. Check again after it is."
)
RECEIPT_COUNTED = N_(
    "The ballot with the receipt code {code} was counted in round {number} of {org}. The code "
    "says nothing about the choices on it."
)


def receipt_check_text(t: Translator, check: ReceiptCheck, typed: str) -> str:
    """/kiem_tra_phieu: whether the ballot with the code typed was counted (R-B8)."""
    code = f"<code>{esc(typed)}</code>"
    if not check.found:
        return t(
            "No ballot has the receipt code {code}. Check that you copied it exactly.", code=code
        )
    said = RECEIPT_COUNTED if check.counted else RECEIPT_SEALED
    return t(said, code=code, number=check.round.number, org=esc(check.cell.name))


def receipt_pointer(t: Translator, view: RoundView, where: Literal["here", "coming", "gone"]) -> str:
    """/phieu after the cast: the round voted in, and where the receipt code is."""
    said = t(
        "You have already voted in round {number} of {org}.",
        number=view.round.number,
        org=esc(view.cell.name),
    )
    if where == "here":
        told = t("Your receipt code is in the message this one answers.")
    elif where == "coming":
        told = t("Your receipt is on its way; it comes in a message of its own.")
    else:
        told = t("The message with your receipt code was deleted; I cannot show it again.")
    return f"{said} {told}"


def close_text(t: Translator, view: RoundView) -> str:
    """What closing the round now does, for the confirmation step."""
    where = t("{org}, round {number}", org=view.cell.name, number=view.round.number)
    title = t("Close the ballot round now?")
    lines = [f"🔒 <b>{esc(title)}</b> — {esc(where)}", ""]
    if view.waiting:
        lines.append(
            t(
                "{count} voters have not voted yet: {names}. They will not be able to vote in "
                "this round.",
                count=len(view.waiting),
                names=names(view.waiting, t),
            )
        )
    lines.append(
        t(
            "Voting ends for good: this cannot be undone. Then the counting committee opens "
            "the ballot box."
        )
    )
    return "\n".join(lines)


def close_keyboard(t: Translator, view: RoundView) -> InlineKeyboardMarkup:
    """The confirmation of closing a round ("✖ Hủy" is added by the flow's prompt)."""
    confirm = CloseButton("yes", view.round.id).encode()
    return InlineKeyboardMarkup([[InlineKeyboardButton(t("✅ Confirm"), callback_data=confirm)]])


def results_keyboard(t: Translator, result: RoundResult) -> InlineKeyboardMarkup | None:
    """The secretary's button for another round on the undecided members, if any."""
    if _of_units(result.view):
        return _units().results_keyboard(t, result)
    if not result.undecided:
        return None
    label = t("🗳 Vote again on {count} members", count=len(result.undecided))
    data = OpenButton("next", result.view.meeting.id).encode()
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])
