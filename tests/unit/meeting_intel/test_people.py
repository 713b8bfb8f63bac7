from services.meeting_intel.people import People
from services.meeting_intel.transcript import parse_text

PEOPLE = People(parse_text("Ann Lee: Hi.\nBob: Hello.\nAnn Lee: So.\n(unknown) x"))


def test_a_first_name_or_a_placeholder_resolves_to_the_speaker():
    assert PEOPLE.canonical("Ann") == "Ann Lee"
    assert PEOPLE.canonical("[Bob]") == "Bob"
    assert PEOPLE.canonical("[PERSON7]") == "PERSON7"


def test_sentence_openers_are_not_people_but_names_and_placeholders_are():
    assert not PEOPLE.is_person("Everything")
    assert not PEOPLE.is_person("Friday")
    assert PEOPLE.is_person("Maria")
    assert PEOPLE.is_person("[PERSON3]")
    assert not PEOPLE.is_person("[PROJECT1]")


def test_the_addressee_is_the_person_called_else_the_next_other_speaker():
    assert PEOPLE.addressee(0, "Bob, can you do it?") == "Bob"
    assert PEOPLE.addressee(0, "Could you do it, Maria?") == "Maria"
    assert PEOPLE.addressee(0, "Honestly, can you do it?") == "Bob"
    assert PEOPLE.addressee(2, "Can you do it?") == "Bob"  # nobody after: who spoke before


def test_a_titled_speaker_with_a_role_is_found_by_name_and_first_name():
    people = People(
        parse_text(
            "Hon. Ahmed Hussen (Minister of Families, Children and Social Development): Thanks."
            "\nMs. Ann Lee: Ahmed, can you send the figures?"
        )
    )
    minister = "Hon. Ahmed Hussen (Minister of Families, Children and Social Development)"
    assert people.canonical("Ahmed") == minister
    assert people.canonical("Ahmed Hussen") == minister
    assert people.canonical("Ann") == "Ms. Ann Lee"
    assert people.addressee(1, "Ahmed, can you send the figures?") == minister
