"""The labels a request names: its own, checked, or those of a built-in taxonomy."""

from __future__ import annotations

from services.classifier.taxonomies import TAXONOMIES
from services.classifier.zero_shot import LabelSpec
from services.common.contract_checks import check_labels


def resolve_labels(labels, taxonomy: str, max_labels: int, max_chars: int) -> list[LabelSpec]:
    """`labels` are objects with name, description and examples (the Label message)."""
    check_labels(labels, taxonomy, max_labels, max_chars)
    if not labels:
        return list(TAXONOMIES[taxonomy])
    return [LabelSpec(lab.name.strip(), lab.description, tuple(lab.examples)) for lab in labels]
