"""The proxy registry: one decorated function declares a proxy and its facts; the old names derive from it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import scoring.proxies as proxies
from scoring.proxies import (
    BUILTIN_PROXIES,
    COST_CLASSES,
    available_proxies,
    check_proxy_space,
    get_proxy,
    proxy_spec,
    proxy_specs,
    register_proxy,
    uses_labels,
)
from scoring.proxies.facts import unregister_proxy
from search_spaces.core.errors import ProxyNotApplicableError, UnknownNameError


@pytest.fixture
def throwaway():
    """Registers ``half_params`` (a NaN for a parameter-free net) for one test, then removes it."""

    @register_proxy(spaces=("nb201",), cost="free", source="a test", safe_precisions=("float32", "bfloat16"))
    def half_params(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
        """Half the number of parameters."""
        count = sum(p.numel() for p in model.parameters())
        return count / 2 if count else math.nan

    yield half_params
    unregister_proxy("half_params")


def test_the_old_names_are_derived_from_the_specs():
    assert proxies.LABEL_PROXIES == frozenset({"grad_norm", "snip", "plain", "grasp", "fisher", "zico"})
    assert proxies.PROXY_SPACES == {"skipped_layers": frozenset({"nb201", "nats_sss"})}
    assert set(proxies.PROXIES) == set(available_proxies()) == {s.name for s in proxy_specs()}
    assert all(uses_labels(n) == (n in proxies.LABEL_PROXIES) for n in available_proxies())
    assert all(s.cost in COST_CLASSES and s.summary for s in proxy_specs())


def test_the_docstring_table_lists_every_builtin_once():
    rows = [line for line in (proxies.__doc__ or "").splitlines() if line.startswith("| ")]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    assert names == list(BUILTIN_PROXIES) and len(BUILTIN_PROXIES) >= 29
    assert "| grad_norm | backward | yes | all |" in proxies.__doc__
    assert "| skipped_layers | free |  | nats_sss, nb201 |" in proxies.__doc__


def test_one_decorated_function_is_a_whole_proxy(throwaway):
    assert "half_params" in available_proxies() and "half_params" in proxies.PROXIES
    spec = proxy_spec("half_params")
    assert spec.summary == "Half the number of parameters." and spec.cost == "free" and not spec.labels
    assert spec.fact("safe_precisions") == ("float32", "bfloat16") and spec.fact("other", 3) == 3
    assert proxies.PROXY_SPACES["half_params"] == frozenset({"nb201"})
    check_proxy_space("half_params", "nb201")
    with pytest.raises(ProxyNotApplicableError, match="nb201 only, not on 'nb101'"):
        check_proxy_space("half_params", "nb101")
    # the contract wrapper is on: a float, and NaN becomes -inf
    assert get_proxy("half_params")(nn.Linear(3, 2), torch.zeros(1, 3), torch.zeros(1)) == 4.0
    assert get_proxy("half_params")(nn.ReLU(), torch.zeros(1, 3), torch.zeros(1)) == -math.inf


def test_the_registry_refuses_a_clash_and_bad_facts(throwaway):
    with pytest.raises(ValueError, match="'half_params' is already registered"):

        @register_proxy(name="half_params")
        def other(model, images, labels):
            return 0.0

    with pytest.raises(ValueError, match="cost must be one of"):
        register_proxy(cost="cheap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one space"):
        register_proxy(spaces=())


def test_unknown_names_list_the_known_ones():
    with pytest.raises(UnknownNameError, match="naswot"):
        get_proxy("nope")
    with pytest.raises(UnknownNameError):
        uses_labels("nope")
