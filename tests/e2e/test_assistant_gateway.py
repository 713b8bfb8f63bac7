"""The knowledge store as outside clients reach it: JSON through the real Envoy to the real
assistant process, which embeds through the real embeddings process.

Named to sort before test_gateway.py, whose last test stops the shared suite.
"""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.e2e

DOCUMENTS = "/v1/assistant/documents"
SEARCH = "/v1/assistant/search"
NOTES = (
    "The quarterly review is on 12 March. Carol will present the hiring plan, and the "
    "budget for the new office in Lisbon was approved at 300,000 euros."
)


def test_a_user_indexes_finds_and_deletes_a_document_that_others_never_see(suite):
    owner, other = f"ann-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    indexed = suite.request(
        "POST", DOCUMENTS, {"source_id": "review.txt", "text": NOTES}, user=owner
    )
    assert indexed.status == 200, indexed.body
    assert indexed.body["chunks"][0]["end"] == len(NOTES)

    found = suite.request("POST", SEARCH, {"query": "office budget in Lisbon"}, user=owner)
    assert found.status == 200, found.body
    best = found.body["passages"][0]
    assert best["source_id"] == "review.txt" and "Lisbon" in best["text"]
    assert NOTES[best["start"] : best["end"]] == best["text"]

    hidden = suite.request("POST", SEARCH, {"query": "office budget in Lisbon"}, user=other)
    assert hidden.status == 200 and hidden.body["passages"] == []
    assert suite.request("DELETE", f"{DOCUMENTS}/review.txt", user=other).status == 404

    deleted = suite.request("DELETE", f"{DOCUMENTS}/review.txt", user=owner)
    assert deleted.status == 200 and deleted.body["chunks_deleted"] == 1
    gone = suite.request("POST", SEARCH, {"query": "office budget in Lisbon"}, user=owner)
    assert gone.body["passages"] == []


def test_bad_input_is_a_400_naming_the_field(suite):
    reply = suite.request("POST", SEARCH, {"query": "budget", "top_k": 1000})
    assert reply.status == 400
    assert "top_k" in str(reply.body)
