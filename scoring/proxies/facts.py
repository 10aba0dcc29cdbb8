"""A proxy is one function with its facts beside it: the :func:`register_proxy` decorator and the registry.

Adding a proxy is one decorated function (as NASLib's ``@measure``)::

    @register_proxy(cost="forward", summary="log of the mean activation", source="me, 2026")
    def mean_activation(model, images, labels) -> float:
        ...

The decorator wraps the function in :func:`~scoring.proxies._common.proxy_contract` (float,
NaN -> ``-inf``, modes restored, gradients cleared) and records a :class:`ProxySpec` under the
function's name. Everything that lists proxies or asks what one needs (``LABEL_PROXIES``,
``PROXY_SPACES``, the table in :mod:`scoring.proxies`' docstring, ``--proxies`` help texts, the
store's checks) reads the specs; nothing repeats a proxy's name as a string elsewhere.

Facts beyond the fixed ones are keyword arguments kept in :attr:`ProxySpec.facts` (e.g. a
precision a proxy is safe at): ``register_proxy(..., safe_precisions=("float32",))`` then
``proxy_spec(name).fact("safe_precisions", default)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from scoring.proxies._common import Proxy, proxy_contract

CostClass = Literal["free", "forward", "backward", "many_backward"]
"""What one call costs, in passes over the network:

* ``free``: no pass over data (counts of parameters or layers, weight norms, the cell's wiring);
* ``forward``: forward passes only, no gradients;
* ``backward``: one forward and one backward pass (gradients of weights or inputs);
* ``many_backward``: one backward pass per image or per class, or second-order products.
"""
COST_CLASSES: tuple[str, ...] = get_args(CostClass)


@dataclass(frozen=True)
class ProxySpec:
    """One registered proxy and what it is.

    Attributes:
        name: the ``--proxies`` name (the function's name unless given).
        function: the contract-wrapped ``proxy(model, images, labels) -> float``.
        labels: whether it computes a loss against the batch's labels, which must then be below
            the head's number of classes (the scorers draw such batches from the task's classes).
        spaces: the spaces it is defined on; ``None``: every space.
        cost: its :data:`CostClass`.
        summary: its definition in one line (the table in :mod:`scoring.proxies`).
        source: where it was published ("" for plain counts).
        facts: further facts by name (read-only), e.g. the precisions it is safe at.
    """

    name: str
    function: Proxy
    labels: bool = False
    spaces: frozenset[str] | None = None
    cost: str = "forward"
    summary: str = ""
    source: str = ""
    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def fact(self, name: str, default: Any = None) -> Any:
        """The extra fact ``name`` (``default`` when the proxy does not declare it)."""
        return self.facts.get(name, default)

    def defined_on(self, space: str) -> bool:
        """Whether the proxy has a definition on the space called ``space``."""
        return self.spaces is None or space in self.spaces


_SPECS: dict[str, ProxySpec] = {}
PROXIES: dict[str, Proxy] = {}
"""Every registered proxy function by name, in registration order (the live registry)."""


def register_proxy(
    name: str | None = None,
    *,
    labels: bool = False,
    spaces: Iterable[str] | None = None,
    cost: CostClass = "forward",
    summary: str = "",
    source: str = "",
    **facts: Any,
) -> Callable[[Callable[..., float]], Proxy]:
    """Decorator: wrap ``function`` in the proxy contract and register it with these facts.

    Returns the wrapped function, which carries its spec as ``__proxy_spec__``. ``summary``
    defaults to the first line of the function's docstring.

    Raises:
        ValueError: an unknown ``cost`` class, an empty ``spaces``, or a name already registered
            for another function (a proxy is never silently replaced).
    """
    if cost not in COST_CLASSES:
        raise ValueError(f"cost must be one of {', '.join(COST_CLASSES)}, got {cost!r}")
    space_set = None if spaces is None else frozenset(spaces)
    if space_set is not None and not space_set:
        raise ValueError("spaces must name at least one space (None: every space)")

    def decorate(function: Callable[..., float]) -> Proxy:
        key = name or function.__name__
        wrapped = proxy_contract(function)
        doc = (function.__doc__ or "").strip().splitlines()
        spec = ProxySpec(
            key,
            wrapped,
            bool(labels),
            space_set,
            cost,
            summary or (doc[0] if doc else ""),
            source,
            MappingProxyType(dict(facts)),
        )
        old = _SPECS.get(key)
        if old is not None and _origin(old.function) != _origin(wrapped):
            raise ValueError(f"proxy {key!r} is already registered ({_origin(old.function)}); pick another name")
        wrapped.__proxy_spec__ = spec  # type: ignore[attr-defined]
        _SPECS[key] = spec
        PROXIES[key] = wrapped
        return wrapped

    return decorate


def _origin(function: Callable) -> str:
    inner = getattr(function, "__wrapped__", function)
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', '?')}"


def registered_spec(name: str) -> ProxySpec | None:
    """The spec registered as ``name``, or None (no plugin loading: see :func:`scoring.proxies.proxy_spec`)."""
    return _SPECS.get(name)


def registered_specs() -> tuple[ProxySpec, ...]:
    """Every spec registered so far, in registration order."""
    return tuple(_SPECS.values())


def spec_of(function: Callable) -> ProxySpec | None:
    """The spec a decorated proxy function carries, or None for a plain function."""
    spec = getattr(function, "__proxy_spec__", None)
    return spec if isinstance(spec, ProxySpec) else None


def proxy_table(specs: Iterable[ProxySpec]) -> str:
    """The Markdown table (name, cost, labels, spaces, definition, source) of ``specs``."""
    rows = [
        "| name | cost | labels | spaces | definition (each function's docstring has the full one) | source |",
        "|---|---|---|---|---|---|",
    ]
    for s in specs:
        spaces = "all" if s.spaces is None else ", ".join(sorted(s.spaces))
        rows.append(f"| {s.name} | {s.cost} | {'yes' if s.labels else ''} | {spaces} | {s.summary} | {s.source} |")
    return "\n".join(rows)


def label_proxies(specs: Iterable[ProxySpec]) -> frozenset[str]:
    """The names of the specs that need labels below the head's number of classes."""
    return frozenset(s.name for s in specs if s.labels)


def proxy_spaces(specs: Iterable[ProxySpec]) -> dict[str, frozenset[str]]:
    """name -> spaces, for the specs not defined on every space."""
    return {s.name: s.spaces for s in specs if s.spaces is not None}


def unregister_proxy(name: str) -> None:
    """Remove proxy ``name`` from the registry (tests that register a throw-away proxy use it);
    no error when it is not registered."""
    _SPECS.pop(name, None)
    PROXIES.pop(name, None)
