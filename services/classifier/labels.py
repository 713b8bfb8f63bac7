"""The labels a request names: its own, checked, or those of a built-in taxonomy."""

from __future__ import annotations

from services.classifier.taxonomies import TAXONOMIES
from services.classifier.zero_shot import LabelSpec, validate_labels
from services.common.errors import InvalidInput


def resolve_labels(labels, taxonomy: str, max_labels: int, max_chars: int) -> list[LabelSpec]:
    """`labels` are objects with name, description and examples (the Label message)."""
    if not labels and taxonomy:
        if taxonomy not in TAXONOMIES:
            raise InvalidInput("taxonomy", f"unknown taxonomy; known: {', '.join(TAXONOMIES)}")
        return list(TAXONOMIES[taxonomy])
    specs = [LabelSpec(lab.name.strip(), lab.description, tuple(lab.examples)) for lab in labels]
    validate_labels(specs, max_labels, max_chars)
    return specs
