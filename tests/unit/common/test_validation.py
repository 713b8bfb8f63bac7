import pytest

from services.common.errors import InvalidInput
from services.common.validation import require_text, require_texts


def test_blank_text_is_rejected_by_field_name():
    with pytest.raises(InvalidInput) as caught:
        require_text("  \n", "input.text", 10)
    assert caught.value.violations[0].field == "input.text"


def test_text_over_the_limit_is_rejected_with_the_limit_in_the_reason():
    with pytest.raises(InvalidInput, match="limit of 10"):
        require_text("x" * 11, "text", 10)


def test_texts_name_the_index_of_the_bad_one():
    with pytest.raises(InvalidInput) as caught:
        require_texts(["ok", ""], "texts", 5, 10)
    assert caught.value.violations[0].field == "texts[1]"
    with pytest.raises(InvalidInput, match="more than the limit"):
        require_texts(["a"] * 6, "texts", 5, 10)
    with pytest.raises(InvalidInput):
        require_texts([], "texts", 5, 10)
