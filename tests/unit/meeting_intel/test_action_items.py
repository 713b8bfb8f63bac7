from datetime import date

from services.meeting_intel import action_items
from services.meeting_intel.commitments import TEAM
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


async def test_markers_need_no_check_and_a_marker_for_nobody_named_is_not_an_item(prepare):
    found = await items(
        prepare,
        "Bob: Action item for me: write the migration guide.\n"
        "Cara: Action item: update the changelog.",
    )
    assert [(i.owner, i.task) for i in found] == [("Bob", "Write the migration guide")]


async def test_the_teams_plan_counts_in_the_closing_part_of_the_meeting_only(prepare):
    found = await items(
        prepare,
        "Ann: We need to fix the login bug before the release.\n"
        "Bob: The login bug only shows on older phones.\n"
        "Cara: The new phones are fine.\n"
        "Ann: So we should ask the vendor for a patch by Friday.\n"
        "Bob: And let's get started with the demo.",
    )
    assert [(i.owner, i.task, i.due) for i in found] == [
        (TEAM, "Ask the vendor for a patch by Friday", date(2024, 5, 17))
    ]


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


async def test_hedged_commitments_are_not_action_items(prepare):
    found = await items(
        prepare,
        "Ann: I'll try to fix the printer driver.\n"
        "Bob: I will probably rewrite the installer script.\n"
        "Ann: Maybe Bob will order the new laptops.\n"
        "Cara: I think Bob should migrate the customer database.\n"
        "Bob: I hope I will finish the migration guide.",
    )
    assert found == []


async def test_what_is_done_there_and_then_in_the_meeting_is_not_an_action_item(prepare):
    found = await items(
        prepare,
        "Ann: Just a moment, I'll find the travel spreadsheet.\n"
        "Bob: I'll paste the agenda link into the chat.\n"
        "Cara: Let me check the sales figures now.\n"
        "Ann: I will work on the grant proposal from now on.",
    )
    assert [(i.owner, i.task) for i in found] == [("Ann", "Work on the grant proposal from now on")]


async def test_speech_that_restarts_or_talks_of_the_past_is_not_a_task(prepare):
    found = await items(
        prepare,
        "Ann: I'll I'm clicking the record button.\n"
        "Bob: Then I will the installer is failing again.\n"
        "Cara: I will server is running the nightly backup.\n"
        "Ann: Bob will reviewed the contract with the lawyer.",
    )
    assert found == []


async def test_would_you_and_will_you_ask_for_a_view_and_you_will_tells_what_happens(prepare):
    found = await items(
        prepare,
        "Ann: Would you recommend the cheaper hosting vendor?\n"
        "Bob: Will you keep the old company logo or?\n"
        "Ann: You will get the invoice from the accounting team.\n"
        "Bob: Fine.\n"
        "Ann: Would you please send the signed invoice to accounting?\n"
        "Bob: Sure.\n"
        "Ann: Bob, you'll have to renew the company domain name.\n"
        "Bob: Okay.",
    )
    assert [(i.owner, i.task) for i in found] == [
        ("Bob", "Send the signed invoice to accounting"),
        ("Bob", "Renew the company domain name"),
    ]


async def test_a_request_nobody_is_named_for_counts_when_the_next_speaker_takes_it_on(prepare):
    found = await items(
        prepare,
        "Ann: Please update the wiki page for the release.\n"
        "Bob: The wiki is slow today.\n"
        "Cara: Could you fix the broken link on the homepage?\n"
        "Bob: Ann, sure, I'll do it this afternoon.",
    )
    assert [(i.owner, i.task) for i in found] == [("Bob", "Fix the broken link on the homepage")]


async def test_a_request_to_a_group_has_no_owner(prepare):
    found = await items(
        prepare,
        "Ann: Everybody please fill in the travel expenses form.\n"
        "Bob: Sure.\n"
        "Cara: Could someone please book the conference room?\n"
        "Bob: Yes.",
    )
    assert found == []


async def test_a_task_of_owners_who_share_a_person_said_again_is_one_item(prepare):
    found = await items(
        prepare,
        "Ann: Bob and Cara will write the test plan for the payment module.\n"
        "Bob: Good.\n"
        "Dan: So Cara will write the payment module test plan.",
    )
    assert [(i.owner, i.task) for i in found] == [
        ("Bob and Cara", "Write the test plan for the payment module")
    ]


def test_fillers_and_reflexives_are_not_what_a_task_is_about():
    assert action_items.content_words("Test it whenever, yeah") == set()
    assert action_items.content_words("Check it by myself") == set()


async def test_a_promise_or_a_plan_is_a_commitment_but_a_question_without_its_mark_is_not(
    prepare,
):
    found = await items(
        prepare,
        "Ann: I promise to send the revised budget to the board.\n"
        "Bob: And I plan to rewrite the onboarding guide for new staff.\n"
        "Cara: Should Bob order the replacement monitors for the office\n"
        "Ann: Could Cara will book the venue for the workshop",
    )
    assert [(i.owner, i.task) for i in found] == [
        ("Ann", "Send the revised budget to the board"),
        ("Bob", "Rewrite the onboarding guide for new staff"),
    ]


async def test_a_task_stops_where_a_new_subject_starts_and_a_turn_given_is_no_task(prepare):
    found = await items(
        prepare,
        "Ann: Bob, could you again please check the list of suppliers maybe we missed one?\n"
        "Bob: Sure.\n"
        "Cara: Please go ahead Bob.\n"
        "Bob: I will go through the open invoices and then you can pay them.",
    )
    assert [(i.owner, i.task) for i in found] == [
        ("Bob", "Check the list of suppliers"),
        ("Bob", "Go through the open invoices"),
    ]


def test_people_aids_and_light_verbs_are_not_what_a_task_is_about():
    for task in (
        "Find someone, somebody",
        "Keep both of them",
        "Help us a lot",
        "Make sure you do",
        "Make a decision",
        "Do it together",
        "Push you [PERSON5]",
    ):
        assert action_items.content_words(task) == set(), task
    assert action_items.content_words("Make a decision on the venue") == {"venue"}
    assert action_items.content_words("Search for a tool for you [PERSON10] to pipe text") == {
        "tool",
        "[person10]",
        "pipe",
        "text",
    }


async def test_what_is_promised_while_the_meeting_opens_is_not_an_action_item(prepare):
    chat = "".join(f"Bob: Point {n} of the agenda is the budget for team {n}.\n" for n in range(30))
    found = await items(
        prepare,
        "Ann: Hello everyone, I'll put the agenda link into our shared document.\n"
        + chat
        + "Ann: I'll send the signed contract to the lawyer.",
    )
    assert [(i.owner, i.task) for i in found] == [("Ann", "Send the signed contract to the lawyer")]


async def test_a_task_that_names_only_whom_is_not_an_action_item(prepare):
    found = await items(
        prepare,
        "Ann: I'll talk to Bob.\nBob: Could you send it to [PERSON4]?\nAnn: Sure.\n"
        "Cara: I will write to Bob about the conference budget.\nBob: And I'll update Jenkins.",
    )
    assert [(i.owner, i.task) for i in found] == [
        ("Cara", "Write to Bob about the conference budget"),
        ("Bob", "Update Jenkins"),
    ]
