"""The extractive backend and the chat model's prompt, with no network."""

from __future__ import annotations

from services.assistant.backends import (
    NOTHING_FOUND,
    SYSTEM,
    ExtractiveBackend,
    Reply,
    pieces,
    prompt,
)
from services.assistant.sessions import ASSISTANT, USER, Turn
from services.assistant.store import Hit


def hit(score: float, text: str, source_id: str = "doc.txt") -> Hit:
    return Hit(score, "ann", source_id, "", 0, 0, len(text), text)


def test_pieces_join_back_to_the_text():
    text = "  The budget is\n\n2 million dollars [1]. "
    assert "".join(pieces(text)) == text
    assert len(pieces("one two three four five six seven eight nine")) == 3


async def test_the_extractive_answer_is_the_close_passages_each_cited():
    backend = ExtractiveBackend(max_passages=2, spread=0.15)
    passages = [
        hit(0.6, "The budget is 2 million.", "a"),
        hit(0.5, "Ads take most of it.", "b"),
        hit(0.2, "The trail is long.", "c"),
    ]
    reply = Reply()
    text = "".join([p async for p in backend.answer("budget?", [], passages, reply, None)])
    assert text == "The budget is 2 million. [1]\n\nAds take most of it. [2]"
    assert [h.source_id for h in reply.cited] == ["a", "b"]
    assert reply.input_tokens == reply.output_tokens == 0


async def test_with_no_passages_the_extractive_answer_says_so_and_cites_nothing():
    reply = Reply()
    text = "".join([p async for p in ExtractiveBackend().answer("q", [], [], reply, None)])
    assert text == NOTHING_FOUND and reply.cited == []


def test_the_prompt_numbers_the_passages_and_drops_the_oldest_turns_past_its_size():
    history = [Turn(USER, "old " * 100), Turn(ASSISTANT, "recent answer")]
    messages = prompt("What now?", history, [hit(0.5, "Passage one.")], max_chars=400)
    assert messages[0] == {"role": "system", "content": SYSTEM}
    assert messages[1] == {"role": "assistant", "content": "recent answer"}
    assert "[1] Passage one." in messages[-1]["content"]
    assert messages[-1]["content"].endswith("Question: What now?")
    assert len(messages) == 3
