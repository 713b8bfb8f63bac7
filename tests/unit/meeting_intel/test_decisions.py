from services.meeting_intel import decisions


async def found(prepare, text):
    _, sentences, vectors = await prepare(text, decisions.texts_to_embed())
    return [d.text for d in decisions.extract(sentences, vectors)]


async def test_agreements_and_choices_are_decisions(prepare):
    text = (
        "Ann: We looked at both vendors.\n"
        "Bob: So we decided to go with the cheaper vendor for the servers.\n"
        "Ann: Okay, let's keep the old logo for the launch.\n"
        "Bob: Nice weather today."
    )
    assert await found(prepare, text) == [
        "So we decided to go with the cheaper vendor for the servers.",
        "Let's keep the old logo for the launch.",
    ]


async def test_procedure_questions_and_conditions_are_not_decisions(prepare):
    text = (
        "Ann: Let's move on to the next point.\nBob: Let's see what the others say.\n"
        "Ann: What have we decided about the budget?\n"
        "Bob: If we agreed to use it, we would need more servers."
    )
    assert await found(prepare, text) == []
