"""The invite list as a spreadsheet, for the CLI and for /moi."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

from bot.i18n import Translator
from bot.services.invites import Invite
from bot.services.invites import deep_link
from bot.services.sheets import append_text_row


def invites_workbook(invites: Sequence[Invite], t: Translator, bot_username: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = t("Invites")
    headers = [t("Member code"), t("Full name"), t("Cell"), t("Invite link"), t("Expires")]
    append_text_row(sheet, headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for invite in invites:
        # Codes, names and the cell's name come from a roster: never let one become a formula.
        append_text_row(
            sheet,
            [
                invite.member.code,
                invite.member.full_name,
                invite.org.name,
                deep_link(bot_username, invite.token),
                t.datetime(invite.expires_at),
            ]
        )
    for column, width in zip("ABCDE", (14, 28, 28, 70, 20), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
