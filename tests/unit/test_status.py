"""Issue 6: the pieces of /tinh_trang that are plain functions."""

import datetime as dt
from collections import Counter

from bot.services.status import Figures
from bot.services.status import months_back
from rules.people import months_between


def test_months_back_matches_the_eligibility_rule():
    # R-E3: "new" is months_between(admitted, day) < 6; admitted on or before the cut-off is not.
    for day in (dt.date(2026, 12, 5), dt.date(2026, 8, 31), dt.date(2024, 8, 30), dt.date(2026, 3, 1)):
        cutoff = months_back(day, 6)
        assert months_between(cutoff, day) >= 6
        assert months_between(cutoff + dt.timedelta(days=1), day) < 6


def test_figures_add_up_and_missing_is_never_negative():
    a = Figures(members=5, to_review=4, submitted=3, late=1, proposed=Counter(HTT=2))
    b = Figures(members=2, to_review=1, submitted=2, decided=Counter(HT=1))
    assert b.missing == 0
    a.add(b)
    assert (a.members, a.to_review, a.submitted, a.late, a.missing) == (7, 5, 5, 1, 0)
    assert a.proposed_total == 2 and a.decided_total == 1
