from services.meeting_intel import topics
from services.meeting_intel.sentences import split
from services.meeting_intel.transcript import parse_text

BUDGET = [
    "The budget for next year is tight.",
    "We must cut travel costs by ten percent.",
    "Finance wants the spending report by March.",
    "The marketing budget stays as it is.",
    "Salaries take most of the budget.",
    "We could save money on software licences.",
    "The accountant will check the invoices.",
    "Costs for cloud servers went up again.",
    "The budget review is next month.",
    "Spending on hardware must wait.",
    "Our costs are higher than planned.",
    "The finance team approved the forecast.",
    "Budget cuts will hit the training plan.",
    "Invoices are paid within thirty days.",
]
PICNIC = [
    "The team picnic is on Saturday in the park.",
    "Bring sandwiches and something to drink.",
    "The kids can play football on the grass.",
    "We hope the weather stays sunny for the picnic.",
    "Someone should bring a blanket and plates.",
    "The park has a barbecue area near the lake.",
    "Dogs are welcome at the picnic too.",
    "We will play games after lunch in the park.",
    "Ice cream for dessert would be nice.",
    "The picnic ends before sunset.",
    "Parking near the park is free on weekends.",
    "Music at the picnic should not be too loud.",
    "Families of the team are invited.",
    "Fruit and salad for the picnic, please.",
]


def transcript(lines):
    speakers = ("Ann", "Bob", "Cara")
    return parse_text("\n".join(f"{speakers[i % 3]}: {line}" for i, line in enumerate(lines)))


async def test_a_change_of_subject_starts_a_new_topic_with_its_own_keywords(embed):
    parsed = transcript(BUDGET + PICNIC)
    sentences = split(parsed)
    vectors, _, _ = await embed([s.clean for s in sentences])
    spans = topics.stretches(sentences, vectors)
    found = topics.describe(sentences, spans, len(parsed.segments) - 1)
    assert len(found) == 2
    assert abs(found[1].start_segment - len(BUDGET)) <= 2
    assert (found[0].start_segment, found[-1].end_segment) == (0, len(parsed.segments) - 1)
    assert found[0].end_segment == found[1].start_segment - 1
    assert "budget" in found[0].keywords and "picnic" in found[1].keywords
    assert found[1].title.lower().startswith(found[1].keywords[0])


async def test_a_short_meeting_is_one_topic_over_every_segment(embed):
    parsed = transcript(BUDGET[:5])
    sentences = split(parsed)
    vectors, _, _ = await embed([s.clean for s in sentences])
    spans = topics.stretches(sentences, vectors)
    found = topics.describe(sentences, spans, len(parsed.segments) - 1)
    assert [(t.start_segment, t.end_segment) for t in found] == [(0, 4)]
    assert found[0].keywords
