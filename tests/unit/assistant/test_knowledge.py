"""Indexing and search over a real store (SQLite and PostgreSQL) and the real local model."""

from __future__ import annotations

import pytest

from services.assistant import knowledge
from services.assistant.knowledge import Limits
from services.common.errors import InvalidInput, NotFound

BUDGET = (
    "The marketing budget for next year is 2 million dollars. Most of it goes to online "
    "advertising. The finance team approved it on Tuesday."
)
HIKING = (
    "The trail to the summit takes four hours. Bring water and warm clothes, because the "
    "weather in the mountains changes fast."
)


async def test_search_finds_the_passage_by_meaning_with_its_offsets(store, embed):
    await knowledge.index_document(store, embed, "ann", "budget.txt", "Budget", BUDGET)
    await knowledge.index_document(store, embed, "ann", "hike.txt", "Hike", HIKING)
    found = await knowledge.search(store, embed, "ann", "how much money can we spend on ads?")
    best = found.hits[0]
    assert best.source_id == "budget.txt" and best.title == "Budget"
    assert BUDGET[best.start : best.end] == best.text
    assert [h.source_id for h in found.hits] == ["budget.txt", "hike.txt"]
    assert found.hits[0].score > found.hits[1].score
    assert found.tokens > 0 and found.model


async def test_a_user_sees_only_their_own_documents_and_an_admin_sees_all(store, embed):
    await knowledge.index_document(store, embed, "ann", "budget.txt", "", BUDGET)
    await knowledge.index_document(store, embed, "bob", "hike.txt", "", HIKING)
    ann = await knowledge.search(store, embed, "ann", "mountain trail")
    assert {h.owner for h in ann.hits} == {"ann"}
    everyone = await knowledge.search(store, embed, None, "mountain trail")
    assert everyone.hits[0].owner == "bob" and len(everyone.hits) == 2


async def test_the_source_filter_keeps_only_those_sources(store, embed):
    await knowledge.index_document(store, embed, "ann", "budget.txt", "", BUDGET)
    await knowledge.index_document(store, embed, "ann", "hike.txt", "", HIKING)
    found = await knowledge.search(store, embed, "ann", "mountain trail", source_ids=["budget.txt"])
    assert [h.source_id for h in found.hits] == ["budget.txt"]


async def test_indexing_a_source_again_replaces_it_and_search_sees_the_change(store, embed):
    await knowledge.index_document(store, embed, "ann", "notes", "", BUDGET)
    assert (await knowledge.search(store, embed, "ann", "advertising")).hits
    await knowledge.index_document(store, embed, "ann", "notes", "", HIKING)
    hits = (await knowledge.search(store, embed, "ann", "advertising")).hits
    assert len(hits) == 1 and hits[0].text == HIKING


async def test_a_long_document_is_chunked_and_each_chunk_found_in_place(store, embed):
    text = " ".join([BUDGET, HIKING] * 20)
    indexed = await knowledge.index_document(
        store, embed, "ann", "long", "", text, Limits(chunk_chars=200)
    )
    assert len(indexed.chunks) > 10
    hits = (await knowledge.search(store, embed, "ann", "warm clothes", top_k=5)).hits
    assert len(hits) == 5
    assert all(text[h.start : h.end] == h.text for h in hits)
    assert all("clothes" in h.text for h in hits[:3])


async def test_delete_removes_the_document_and_a_second_delete_is_not_found(store, embed):
    indexed = await knowledge.index_document(store, embed, "ann", "budget.txt", "", BUDGET)
    assert await knowledge.delete_document(store, "ann", "budget.txt") == len(indexed.chunks)
    assert (await knowledge.search(store, embed, "ann", "budget")).hits == []
    with pytest.raises(NotFound):
        await knowledge.delete_document(store, "ann", "budget.txt")


async def test_another_user_cannot_delete_a_document(store, embed):
    await knowledge.index_document(store, embed, "ann", "budget.txt", "", BUDGET)
    with pytest.raises(NotFound):
        await knowledge.delete_document(store, "bob", "budget.txt")


async def test_vectors_of_another_model_are_never_compared(store, embed):
    await knowledge.index_document(store, embed, "ann", "budget.txt", "", BUDGET)

    async def other_model(texts):
        vectors, tokens, _ = await embed(texts)
        return vectors, tokens, "another-model"

    assert (await knowledge.search(store, other_model, "ann", "budget")).hits == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, e: knowledge.index_document(s, e, "ann", " ", "", BUDGET), "source_id"),
        (lambda s, e: knowledge.index_document(s, e, "ann", "x" * 300, "", BUDGET), "source_id"),
        (lambda s, e: knowledge.index_document(s, e, "ann", "a", "t" * 2000, BUDGET), "title"),
        (lambda s, e: knowledge.index_document(s, e, "ann", "a", "", "\n "), "text"),
        (
            lambda s, e: knowledge.index_document(
                s, e, "ann", "a", "", BUDGET, Limits(max_text_chars=10)
            ),
            "text",
        ),
        (lambda s, e: knowledge.search(s, e, "ann", ""), "query"),
        (lambda s, e: knowledge.search(s, e, "ann", "q", top_k=-1), "top_k"),
        (lambda s, e: knowledge.search(s, e, "ann", "q", top_k=101), "top_k"),
        (lambda s, e: knowledge.search(s, e, "ann", "q", source_ids=[""]), "source_ids[0]"),
        (lambda s, e: knowledge.search(s, e, "ann", "q", source_ids=["a"] * 101), "source_ids"),
        (lambda s, e: knowledge.delete_document(s, "ann", ""), "source_id"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(store, embed, call, field):
    with pytest.raises(InvalidInput) as refused:
        await call(store, embed)
    assert [v.field for v in refused.value.violations] == [field]


async def test_a_search_after_a_write_by_another_store_sees_it(database_url, store, embed):
    """Two stores on one database stand for two replicas: the version check makes the
    second reload its matrix after the first writes."""
    from services.assistant.store import KnowledgeStore
    from services.common.database import Database

    await knowledge.index_document(store, embed, "ann", "budget.txt", "", BUDGET)
    assert len((await knowledge.search(store, embed, "ann", "trail")).hits) == 1
    db = await Database.open(database_url)
    try:
        other = KnowledgeStore(db)
        await knowledge.index_document(other, embed, "ann", "hike.txt", "", HIKING)
    finally:
        await db.close()
    hits = (await knowledge.search(store, embed, "ann", "trail")).hits
    assert hits[0].source_id == "hike.txt"
