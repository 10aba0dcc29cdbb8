"""Where the driver's scoring requests go: :mod:`scoring.service` (store first, then a pool).

Kept as the orchestrator's import point; the implementation lives in ``scoring.service`` so that the
study CLIs (``orchestrator.correlate``, ``scoring.sweep``) use the very same service.
"""

from __future__ import annotations

from scoring.service import InlinePool, Request, ScoringPool, ScoringService, failed_record

__all__ = ["InlinePool", "Request", "ScoringPool", "ScoringService", "failed_record"]
