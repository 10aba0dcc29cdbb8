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


def _load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def test_gpu_config_is_sized_for_eight_gpu_actors_on_a_cpu_head():
    config = _load("gpu.yaml")
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head.get("resources", {}).get("GPU", 0) == 0 and head["max_workers"] == 0
    gpus = sum(t["max_workers"] * t.get("resources", {}).get("GPU", 0) for t in types.values())
    assert gpus >= 8 and config["max_workers"] >= sum(t["max_workers"] for t in types.values())


@pytest.mark.parametrize("name", ["gpu.yaml", "local.yaml"])
def test_configs_install_the_project_keep_auth_on_and_the_dashboard_local(name):
    config = _load(name)
    assert config["file_mounts"]["~/naswot"] == "."
    assert any("cd ~/naswot" in c and "pip install" in c and "-e ." in c for c in config["setup_commands"])
    # the cluster's token goes to every node, and every node starts with token authentication
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in starts if c.strip().startswith(("RAY_", "ray start")))
    assert not any("disabled" in c for c in starts + config["setup_commands"])
    head = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "0.0.0.0" not in head
