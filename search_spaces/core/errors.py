"""The exception hierarchy shared by every naswot package.

``search_spaces`` is the lowest layer, so the base class lives here and ``scoring``,
``orchestrator`` and ``cluster`` raise subclasses of it. Each error also derives from the
built-in exception a caller would naturally catch (``ValueError``, ``KeyError``,
``FileNotFoundError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class NaswotError(Exception):
    """Base class of every error naswot raises on purpose."""


class InvalidArchitectureError(NaswotError, ValueError):
    """A cell string or encoding that does not describe an architecture of the space."""


class UnknownNameError(NaswotError, KeyError):
    """A name (space, dataset, split, proxy, ...) that is not registered.

    The message lists the known names.
    """

    def __init__(self, kind: str, name: object, known: list[str] | tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(map(str, self.known))}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class BenchmarkDataError(NaswotError, FileNotFoundError):
    """A benchmark or image directory given by the user is missing or not in the expected format."""


class ArchitectureNotInBenchmarkError(NaswotError, KeyError):
    """A valid architecture that the benchmark table has no record of."""

    def __str__(self) -> str:
        return str(self.args[0])


class ProxyNotApplicableError(NaswotError, ValueError):
    """A proxy asked of a network it has no definition for (e.g. a cell-structure score of a
    network without declared DAG cells)."""
