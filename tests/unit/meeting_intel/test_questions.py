from services.meeting_intel import questions
from services.meeting_intel.people import People


async def open_ones(prepare, text):
    transcript, sentences, vectors = await prepare(text, questions.texts_to_embed())
    people = People(transcript)
    return [
        (q.asked_by, q.text) for q in questions.open_questions(sentences, vectors, people.named_in)
    ]


async def test_a_question_nobody_takes_up_stays_open(prepare):
    text = (
        "Cara: What about the budget for the marketing campaign next quarter?\n"
        "Ann: Let's talk about the office move now.\n"
        "Bob: The movers come with twenty boxes.\n"
        "Ann: And the keys are at the front desk."
    )
    assert await open_ones(prepare, text) == [
        ("Cara", "What about the budget for the marketing campaign next quarter?")
    ]


async def test_questions_answered_by_another_speaker_are_not_open(prepare):
    text = (
        "Ann: When is the login bug going to be fixed?\n"
        "Bob: The login bug will be fixed on Thursday.\n"
        "Ann: Did you send the invoice to the client?\n"
        "Bob: Yes, yesterday.\n"
        "Ann: So we are meeting the auditors next week?\n"
        "Bob: Normally, yes.\n"
        "Ann: Who will present the results at the review?\n"
        "Cara: I will."
    )
    assert await open_ones(prepare, text) == []


async def test_answering_oneself_or_not_knowing_leaves_a_question_open(prepare):
    text = (
        "Ann: Which server should host the new database?\n"
        "Ann: The new database server is important.\n"
        "Bob: I don't know, really.\n"
        "Cara: Anyway, lunch is at noon."
    )
    assert await open_ones(prepare, text) == [("Ann", "Which server should host the new database?")]


async def test_tag_questions_and_meeting_mechanics_are_not_reported(prepare):
    text = (
        "Ann: Can you all hear me now?\nAnn: The plan is ready, right?\n"
        "Ann: What do you mean by that?\nBob: Lunch is at noon."
    )
    assert await open_ones(prepare, text) == []
