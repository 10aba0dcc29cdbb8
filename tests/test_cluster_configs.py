"""The cluster-launcher configs validate offline against Ray's schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from_ray = pytest.importorskip("ray.autoscaler._private.util")

CLUSTER = Path(__file__).resolve().parents[1] / "cluster"


@pytest.mark.parametrize("name", ["gpu.yaml", "local.yaml"])
def test_cluster_config_is_valid(name):
    config = from_ray.prepare_config(yaml.safe_load((CLUSTER / name).read_text()))
    from_ray.validate_config(config)


def test_gpu_config_has_gpu_workers():
    config = yaml.safe_load((CLUSTER / "gpu.yaml").read_text())
    assert any(t.get("resources", {}).get("GPU", 0) >= 1 for t in config["available_node_types"].values())


def test_validation_catches_unknown_keys():
    config = yaml.safe_load((CLUSTER / "gpu.yaml").read_text())
    config["not_a_key"] = 1
    with pytest.raises(Exception, match="not_a_key|Additional properties"):
        from_ray.validate_config(from_ray.prepare_config(config))
