"""Training-free scores of untrained networks.

    >>> from scoring import naswot_score, get_proxy
    >>> score = naswot_score(model, images)          # log|K_H| (Mellor et al., ICML 2021)
    >>> synflow = get_proxy("synflow")(model, images, labels)

The core (kernel, proxies, image batches, the score store and the scoring service) imports no Ray.
The public names are loaded on first use, so ``import scoring.status`` does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from scoring.naswot import naswot_kernel, naswot_score
    from scoring.proxies import available_proxies, get_proxy

_PUBLIC = {
    "naswot_score": ".naswot",
    "naswot_kernel": ".naswot",
    "get_proxy": ".proxies",
    "available_proxies": ".proxies",
}

__all__ = ["available_proxies", "get_proxy", "naswot_kernel", "naswot_score"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module 'scoring' has no attribute {name!r}")
