"""Training-free proxies: each a function ``proxy(model, images, labels) -> float``, looked up by name.

Higher is better for every proxy (TE-NAS's NTK condition number is negated). ``model`` is a
freshly built untrained network, ``images`` a float batch (N, 3, H, W), ``labels`` int64 (N,).

The table at the end of this docstring is generated from the registry (:func:`~scoring.proxies.facts.register_proxy`:
each proxy declares its facts beside its function; ``cost`` is its
:data:`~scoring.proxies.facts.CostClass`, ``labels`` marks :data:`LABEL_PROXIES`).

The loss L of the loss-based proxies (``LABEL_PROXIES``) is the cross-entropy of the batch against
its real labels; a label that is not below the head's number of classes is an error (scorers draw
such batches from the task's classes only, see ``scoring.data.ImagePool.batch(labelled=True)``).
Every proxy keeps the contract of :mod:`scoring.proxies._common` (float; NaN becomes ``-inf``;
modes restored; no gradients, no hooks left; deterministic; only BatchNorm statistics change).
Rank fusions of several proxies are in :mod:`scoring.fusion`.
"""

from __future__ import annotations

from typing import Any

from scoring.proxies import facts as _facts
from scoring.proxies._common import PROXY_SEED, Proxy
from scoring.proxies.activation import meco, meco_opt, naswot, naswot_official, reg_swap, swap
from scoring.proxies.aznas import (
    AZScores,
    az_complexity,
    az_expressivity,
    az_nas_scores,
    az_progressivity,
    az_trainability,
)
from scoring.proxies.facts import COST_CLASSES, CostClass, ProxySpec, register_proxy
from scoring.proxies.gradient import fisher, grad_norm, grasp, plain, snip, zico
from scoring.proxies.jacobian import epe_nas, jacob_cov
from scoring.proxies.size import flops, l2_norm, params, trainable_layers
from scoring.proxies.structure import skipped_layers
from scoring.proxies.synflow import log_synflow, synflow
from scoring.proxies.tenas import linear_regions, ntk_cond
from scoring.proxies.vkdnw import vkdnw
from scoring.proxies.zen import zen
from search_spaces.core.errors import ProxyNotApplicableError, UnknownNameError
from search_spaces.core.plugins import PROXIES_GROUP, load_plugins

BUILTIN_PROXIES: tuple[str, ...] = tuple(s.name for s in _facts.registered_specs())
"""The proxies naswot itself ships, in the order of the table in this docstring."""

__doc__ = f"{__doc__}\n{_facts.proxy_table(_facts.registered_specs())}\n"

_plugins_loaded = False


def load_proxy_plugins() -> None:
    """Register the proxies of every installed ``naswot.proxies`` entry point (once per process;
    every lookup below calls it). An entry point names a function decorated with
    :func:`register_proxy` or a module whose import registers some.

    Raises:
        PluginError: a plugin that does not import, names neither, registers nothing or reuses the
            name of a proxy registered before it (one line naming the plugin).
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for plugin in load_plugins(PROXIES_GROUP):
        value = plugin.value
        if callable(value) and not isinstance(value, type):
            if _facts.spec_of(value) is None:
                raise plugin.error(f"{plugin.target} is not a function decorated with @register_proxy")
        elif not any(s.function.__module__ == getattr(value, "__name__", None) for s in _facts.registered_specs()):
            raise plugin.error(f"{plugin.target} registers no proxy (decorate its functions with @register_proxy)")


def proxy_specs() -> tuple[ProxySpec, ...]:
    """Every registered proxy's :class:`~scoring.proxies.facts.ProxySpec` (built-ins, then plugins)."""
    load_proxy_plugins()
    return _facts.registered_specs()


def proxy_spec(name: str) -> ProxySpec:
    """The spec of proxy ``name``; raises ``UnknownNameError`` listing the known ones."""
    load_proxy_plugins()
    spec = _facts.registered_spec(name)
    if spec is None:
        raise UnknownNameError("proxy", name, tuple(_facts.PROXIES))
    return spec


def check_proxy_space(name: str, space: str) -> None:
    """Raise ``ProxyNotApplicableError`` when proxy ``name`` has no definition on ``space`` (its
    spec's ``spaces``), ``UnknownNameError`` when it is not registered; otherwise return."""
    spec = proxy_spec(name)
    if not spec.defined_on(space):
        assert spec.spaces is not None
        raise ProxyNotApplicableError(
            f"proxy {name!r} is defined on the spaces {', '.join(sorted(spec.spaces))} only, not on {space!r}"
        )


def get_proxy(name: str) -> Proxy:
    """The proxy called ``name``; raises ``UnknownNameError`` listing the known ones."""
    return proxy_spec(name).function


def available_proxies() -> tuple[str, ...]:
    """Names accepted by :func:`get_proxy` (built-ins in table order, then plugins)."""
    load_proxy_plugins()
    return tuple(_facts.PROXIES)


def uses_labels(name: str) -> bool:
    """Whether proxy ``name`` computes a loss against the batch's labels (it then needs images of the
    task's classes only)."""
    return proxy_spec(name).labels


def __getattr__(name: str) -> Any:
    """``PROXIES``, ``LABEL_PROXIES`` and ``PROXY_SPACES``, derived from the registry on each access
    (plugins included):

    * ``PROXIES``: every registered proxy function by name (the live registry dict);
    * ``LABEL_PROXIES``: the proxies whose loss needs labels below the head's number of classes
      (``epe_nas`` reads the labels too, only to group images, so any label values do);
    * ``PROXY_SPACES``: name -> the spaces a proxy is defined on, for the proxies not defined on
      every space (those reading a cell structure that only some spaces' networks declare).
    """
    if name == "PROXIES":
        load_proxy_plugins()
        return _facts.PROXIES
    if name == "LABEL_PROXIES":
        return _facts.label_proxies(proxy_specs())
    if name == "PROXY_SPACES":
        return _facts.proxy_spaces(proxy_specs())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_PROXIES",
    "COST_CLASSES",
    "LABEL_PROXIES",
    "PROXIES",
    "PROXY_SPACES",
    "PROXY_SEED",
    "AZScores",
    "CostClass",
    "Proxy",
    "ProxySpec",
    "available_proxies",
    "az_nas_scores",
    "check_proxy_space",
    "get_proxy",
    "load_proxy_plugins",
    "proxy_spec",
    "proxy_specs",
    "register_proxy",
    "uses_labels",
    "az_complexity",
    "az_expressivity",
    "az_progressivity",
    "az_trainability",
    "epe_nas",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacob_cov",
    "l2_norm",
    "linear_regions",
    "log_synflow",
    "meco",
    "meco_opt",
    "naswot",
    "naswot_official",
    "ntk_cond",
    "params",
    "plain",
    "reg_swap",
    "skipped_layers",
    "snip",
    "swap",
    "synflow",
    "trainable_layers",
    "vkdnw",
    "zen",
    "zico",
]
