"""Texts of the plan commands used outside the ``plans`` gettext domain's own modules (the
command list, the CLI), kept here so they are extracted into ``plans``."""

from bot.i18n import N_

# (menu description, /help line) of /ke_hoach.
KE_HOACH = (
    N_("The year's review plan"),
    N_(
        "/ke_hoach [code]: the year's review plan of your organisation: rulebook, settings "
        "and deadlines (a unit under the plan may set earlier deadlines)"
    ),
)

# The CLI (bot/cli.py).
NO_PLAN_OVER = N_("There is no {year} plan over {code}.")
DEADLINES_SAVED = N_("Deadlines of {org} saved.")
