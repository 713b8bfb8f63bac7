from datetime import date

from services.meeting_intel import action_items
from services.meeting_intel.people import People

MEETING = date(2024, 5, 15)  # a Wednesday


async def items(prepare, text):
    transcript, sentences, vectors = await prepare(text, action_items.texts_to_embed())
    return action_items.extract(sentences, People(transcript), vectors, MEETING)


async def test_i_will_is_owned_by_the_speaker_and_due_by_friday_of_the_meeting_week(prepare):
    found = await items(
        prepare, "Ann: Where are we?\nCara: I'll update the release notes by Friday."
    )
    assert [(i.owner, i.task, i.due) for i in found] == [
        ("Cara", "Update the release notes by Friday", date(2024, 5, 17))
    ]
    assert found[0].sentence.segment == 1
    assert found[0].sentence.text == "I'll update the release notes by Friday."


async def test_a_named_person_who_will_do_something_owns_it(prepare):
    found = await items(
        prepare,
        "Ann: Bob will review the budget draft before the end of next week.\n"
        "Cara: And [PERSON3] needs to book the meeting room tomorrow.\nBob: Fine.",
    )
    assert [(i.owner, i.due) for i in found] == [
        ("Bob", date(2024, 5, 24)),
        ("PERSON3", date(2024, 5, 16)),
    ]


async def test_a_request_is_owned_by_the_person_called_by_name_or_else_by_who_answers(prepare):
    found = await items(
        prepare,
        "Ann: Bob, can you send the test report to the client?\n"
        "Cara: Could you also share the slides with the team?\n"
        "Bob: Sure.",
    )
    assert [(i.owner, i.task) for i in found] == [
        ("Bob", "Send the test report to the client"),
        ("Bob", "Share the slides with the team"),
    ]


async def test_team_commitments_without_an_owner_are_dropped_and_markers_need_no_check(prepare):
    found = await items(
        prepare,
        "Ann: We need to fix the login bug before the release.\n"
        "Bob: Action item for me: write the migration guide.\n"
        "Cara: Action item: update the changelog.",
    )
    assert [(i.owner, i.task) for i in found] == [("Bob", "Write the migration guide")]


async def test_a_task_that_says_nothing_checkable_is_not_an_action_item(prepare):
    found = await items(
        prepare,
        "Ann: Bob, can you share the screen?\nBob: I'll do it all again.\n"
        "Ann: I will tell them.\nBob: I'll send the signed contract to the lawyer.",
    )
    assert [(i.owner, i.task) for i in found] == [("Bob", "Send the signed contract to the lawyer")]


async def test_one_owners_task_said_again_in_other_words_is_one_item(prepare):
    found = await items(
        prepare,
        "Ann: I will send the quarterly budget report to the board.\nBob: Good.\n"
        "Ann: I'll send the board our quarterly budget report.\n"
        "Bob: I will send the quarterly budget report to the auditors too.",
    )
    assert [(i.owner, i.task) for i in found] == [
        ("Ann", "Send the quarterly budget report to the board"),
        ("Bob", "Send the quarterly budget report to the auditors too"),
    ]


def test_content_words_leave_out_the_verb_pronouns_and_particles():
    assert action_items.content_words("Send you that") == set()
    assert action_items.content_words("Email all of them") == set()
    assert action_items.content_words("Check the list of figures") == {"list", "figures"}


async def test_look_alikes_of_commitments_are_not_action_items(prepare):
    found = await items(
        prepare,
        "Ann: Can you hear me?\nBob: I will be honest with you, it is hard.\n"
        "Ann: I think it will work.\nBob: We will have a lot of data next year.\n"
        "Ann: If we need to change it, we can.\nBob: What can you show me here?",
    )
    assert found == []


async def test_a_task_said_twice_by_its_owner_is_one_item(prepare):
    found = await items(
        prepare, "Ann: I'll send the invoice today.\nBob: Good.\nAnn: I'll send the invoice today."
    )
    assert len(found) == 1


async def test_a_need_is_not_a_commitment(prepare):
    found = await items(
        prepare,
        "Ann: I have to leave the call at noon today.\n"
        "Bob: You have to unmute yourself first, Ann.\n"
        "Ann: I need to renew the server certificate.",
    )
    assert found == []


async def test_a_vague_reply_dates_the_request_it_answers_but_only_its_owners(prepare):
    found = await items(
        prepare,
        "Ann: Bob, can you send the test report to the client?\n"
        "Bob: Sure, I will send it tomorrow.\n"
        "Cara: I'll do it on Friday.",
    )
    assert [(i.owner, i.task, i.due) for i in found] == [
        ("Bob", "Send the test report to the client", date(2024, 5, 16))
    ]
