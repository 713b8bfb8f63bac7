from datetime import date

import pytest

from services.meeting_intel.dates import due_date

WEDNESDAY = date(2024, 5, 15)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("I'll send it by Friday.", date(2024, 5, 17)),
        ("We meet again on Wednesday.", date(2024, 5, 22)),
        ("Please do it tomorrow.", date(2024, 5, 16)),
        ("Done by the end of the week.", date(2024, 5, 17)),
        ("Done by the end of next week.", date(2024, 5, 24)),
        ("By the end of the month, please.", date(2024, 5, 31)),
        ("On the 21st of July.", date(2024, 7, 21)),
        ("By July 21, 2025.", date(2025, 7, 21)),
        ("In two weeks.", date(2024, 5, 29)),
        ("By 2024-06-01.", date(2024, 6, 1)),
        ("By the 3rd.", date(2024, 6, 3)),
        ("Mid June.", date(2024, 6, 15)),
        ("Some time in March.", date(2025, 3, 1)),
        ("We march on together.", None),
        ("We may do it later.", None),
        ("It took 4.5 seconds.", None),
    ],
)
def test_due_dates_resolve_against_the_meeting_date(text, due):
    assert due_date(text, WEDNESDAY) == due


def test_the_same_weekday_as_the_meeting_means_the_next_one():
    assert due_date("by Wednesday", WEDNESDAY) == date(2024, 5, 22)


def test_without_a_meeting_date_only_dates_with_their_year_resolve():
    assert due_date("I'll send it by Friday.", None) is None
    assert due_date("Due on 2024-06-01.", None) == date(2024, 6, 1)
