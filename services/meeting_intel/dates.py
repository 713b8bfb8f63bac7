"""Due dates stated in a sentence, resolved against the meeting date.

Finding and resolving are two jobs. Finding is a set of patterns for the expressions
people give deadlines in ("by Friday", "end of next week", "the 21st of July", "in two
weeks", "2024-07-21"), so that "may" or "second" elsewhere in a sentence is not a date.
Resolving is dateparser, with the meeting date as RELATIVE_BASE and future dates
preferred: a commitment falls due after it is made. The deadline idioms dateparser does
not read ("end of the week", "mid June", "by the 3rd") are resolved here.

Without a meeting date only expressions that carry their year resolve: "by Friday" of an
unknown week is no date.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

import dateparser  # type: ignore[import-untyped]  # ships no type information

_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
EXPRESSION = re.compile(
    rf"""\b(?:
      (?P<period>(?P<edge>end|middle|beginning|start)\s+of\s+(?:the\s+)?
         (?P<which>this\s+|next\s+|coming\s+)?(?P<unit>week|month|year|{_MONTHS}))
     |(?P<part>(?P<when>mid|early|late)[\s-]+(?:(?P<nextweek>next\s+week)|(?P<partmonth>{_MONTHS})))
     |(?P<plain>
         today|tonight|tomorrow|day\s+after\s+tomorrow
        |(?:this|next|coming)\s+(?:{_WEEKDAYS}|week|month)
        |in\s+(?:a|one|two|three|four|five|six|\d+|a\s+couple\s+of|a\s+few)\s+(?:days?|weeks?|months?)
        |\d{{4}}-\d{{2}}-\d{{2}}
        |\d{{1,2}}\.\d{{1,2}}\.(?:\d{{4}})?
        |\d{{1,2}}/\d{{1,2}}/\d{{2,4}}
        |(?:{_WEEKDAYS})(?:,?\s+(?:the\s+)?{_ORDINAL}(?:\s+(?:of\s+)?(?:{_MONTHS}))?)?
        |{_ORDINAL}\s+(?:of\s+)?(?:{_MONTHS})(?:,?\s+\d{{4}})?
        |(?:{_MONTHS})\s+{_ORDINAL}(?:,?\s+\d{{4}})?)
     |(?P<ordinal>(?:by|before|until|till|on)\s+the\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)
         (?!\s+(?:of\s+)?(?:{_MONTHS})))
     |(?P<month>(?:by|in|before|until|till)\s+(?P<monthname>{_MONTHS})(?:\s+\d{{4}})?(?!\s+\d))
    )(?!\w)""",
    re.IGNORECASE | re.VERBOSE,
)
_FEW = {"a few": "3", "a couple of": "2"}


def due_date(text: str, meeting: date | None) -> date | None:
    """The first date expression of `text` that resolves, or None."""
    for match in EXPRESSION.finditer(text):
        if meeting is None and not re.search(r"\d{4}", match.group(0)):
            continue
        found = _resolve(match, meeting or date.today())
        if found is not None:
            return found
    return None


def _resolve(match: re.Match, base: date) -> date | None:
    if match.group("period"):
        return _edge(match.group("edge"), match.group("unit"), bool(match.group("which")), base)
    if (this := re.fullmatch(r"this\s+(week|month)", match.group(0), re.IGNORECASE)) is not None:
        return _edge("end", this.group(1), False, base)  # due "this week": by its end
    if match.group("part"):
        when = match.group("when").lower()
        if match.group("nextweek"):
            monday = base - timedelta(days=base.weekday()) + timedelta(days=7)
            return monday + timedelta(days={"early": 0, "mid": 2, "late": 4}[when])
        year, month = _next_month_named(match.group("partmonth"), base)
        day = {"early": 1, "mid": 15, "late": calendar.monthrange(year, month)[1]}[when]
        return date(year, month, day)
    if match.group("ordinal"):
        return _next_day_of_month(int(match.group("day")), base)
    if match.group("month"):
        text, prefer_day = match.group(0).split(None, 1)[1], "first"
    else:
        text, prefer_day = match.group("plain"), "current"
    for phrase, number in _FEW.items():
        text = re.sub(phrase, number, text, flags=re.IGNORECASE)
    settings = {
        "RELATIVE_BASE": datetime.combine(base, datetime.min.time()),
        "PREFER_DATES_FROM": "future",
        "PREFER_DAY_OF_MONTH": prefer_day,
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    if re.fullmatch(r"[\d.]+", text):
        settings["DATE_ORDER"] = "DMY"  # 21.7. is how dotted dates are written
    parsed = dateparser.parse(text, languages=["en"], settings=settings)
    return parsed.date() if parsed else None


def _edge(edge: str, unit: str, next_one: bool, base: date) -> date | None:
    edge, unit = edge.lower(), unit.lower()
    if unit == "week":
        monday = base - timedelta(days=base.weekday()) + timedelta(days=7 * next_one)
        found = monday + timedelta(days={"end": 4, "middle": 2}.get(edge, 0))
        return found if found >= base else found + timedelta(days=7)
    if unit == "year":
        year = base.year + next_one
        found = date(year, *{"end": (12, 31), "middle": (7, 1)}.get(edge, (1, 1)))
        return found if found >= base else found.replace(year=year + 1)
    if unit == "month":
        year, month = base.year, base.month + next_one
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    else:
        year, month = _next_month_named(unit, base)
    last = calendar.monthrange(year, month)[1]
    found = date(year, month, {"end": last, "middle": 15}.get(edge, 1))
    if found < base:  # "beginning of the month" said mid-month: the next one
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        found = date(year, month, {"end": calendar.monthrange(year, month)[1]}.get(edge, 1))
    return found


def _next_month_named(name: str, base: date) -> tuple[int, int]:
    month = next(
        i for i in range(1, 13) if calendar.month_name[i].lower().startswith(name.lower()[:3])
    )
    return (base.year if month >= base.month else base.year + 1), month


def _next_day_of_month(day: int, base: date) -> date | None:
    year, month = base.year, base.month
    for _ in range(3):  # the 31st may skip a short month
        if day <= calendar.monthrange(year, month)[1] and date(year, month, day) >= base:
            return date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None
