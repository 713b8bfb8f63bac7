"""What both Optimize RPCs (the orchestrator's and the monitor's) answer with: a
recommendation, how urgent it is, and the measured figures it rests on; and the one
percentile every figure of ours is computed with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from aiorch.v1 import common_pb2

INFO = common_pb2.SEVERITY_INFO
WARNING = common_pb2.SEVERITY_WARNING
CRITICAL = common_pb2.SEVERITY_CRITICAL


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str


@dataclass(frozen=True)
class Recommendation:
    title: str
    detail: str
    severity: int  # aiorch.v1.Severity
    figures: Sequence[Figure] = ()


def message(recommendation: Recommendation) -> common_pb2.Recommendation:
    return common_pb2.Recommendation(
        title=recommendation.title,
        detail=recommendation.detail,
        severity=recommendation.severity,  # type: ignore[arg-type]
        figures=[
            common_pb2.Figure(name=f.name, value=round(f.value, 6), unit=f.unit)
            for f in recommendation.figures
        ],
    )


def ranked(found: Iterable[Recommendation]) -> list[Recommendation]:
    """The most urgent first; among equals, in the order found."""
    return sorted(found, key=lambda r: -r.severity)


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`, interpolated linearly between the closest
    ranks as numpy and Prometheus's histogram_quantile do; 0 when there are none."""
    found = np.fromiter(values, dtype=float)
    return float(np.percentile(found, q)) if found.size else 0.0
