"""Outcome status of scoring a candidate, shared by the score store and the orchestrator's records."""

from __future__ import annotations

import enum
import math


class Status(str, enum.Enum):
    """How an evaluation ended. A failure is a recorded outcome, never a score of 0."""

    OK = "ok"
    NONFINITE = "nonfinite"  # the score or metric was -inf, +inf or NaN (e.g. a singular kernel)
    FAILED = "failed"  # an exception; the message is recorded

    @classmethod
    def of_value(cls, value: float) -> Status:
        return cls.OK if math.isfinite(value) else cls.NONFINITE
