import jsonschema
import pytest

from services.classifier.openai_backend import prompt, schema
from services.classifier.zero_shot import LabelSpec

LABELS = [LabelSpec("finance", "money matters"), LabelSpec("sport", examples=("A goal.",))]


def test_the_schema_requires_a_score_for_every_label_and_nothing_else():
    shape = schema(LABELS, max_keywords=0, summary_sentences=0)
    jsonschema.validate({"scores": {"finance": 0.9, "sport": 0.1}}, shape)
    for bad in (
        {"scores": {"finance": 0.9}},
        {"scores": {"finance": 1, "sport": 0, "x": 0}},
        {"scores": {"finance": "high", "sport": 0}},
        {},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, shape)


def test_keywords_and_summary_are_asked_for_only_when_wanted():
    shape = schema(LABELS, max_keywords=3, summary_sentences=2)
    assert shape["required"] == ["scores", "keywords", "summary"]
    assert shape["properties"]["keywords"]["maxItems"] == 3
    text = prompt("Doc.", LABELS, 3, 2)
    assert "finance: money matters" in text and "example: A goal." in text
    assert "up to 3 keywords" in text and "at most 2 sentences" in text
