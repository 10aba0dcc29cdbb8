"""Export of the chosen network: a round trip from a finished run to the rebuilt network."""

from __future__ import annotations

import json

import pytest
import torch

from orchestrator import export
from orchestrator import naswot as naswot_cli
from orchestrator.history import CONFIG_FILE, HistoryWriter, history_row, load_history
from orchestrator.report import final_choices
from scoring.cells import build_seeded
from scoring.data import DATASETS
from search_spaces import get_space
from search_spaces.core.records import Kind, Phase, Result, Status, Trial
from search_spaces.nb201 import latency


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    argv = ["--n", "3", "--runs", "1", "--executor", "inline", "--batch-size", "16", "--no-progress"]
    assert naswot_cli.main([*argv, "--store", str(out / "store"), "--out", str(out)]) == 0
    (found,) = [p for p in out.iterdir() if p.name.startswith("naswot-")]
    return found


TINY = [["cells_per_stage", 1], ["channels", 4]]  # a small NB201 network: torch.export takes a second


def hand_made_run(path, seeds, ok=True, options=TINY):
    """A run directory written without a search: one scored cell per seed (index 7 + seed)."""
    nb201 = get_space("nb201")
    path.mkdir()
    config = {"space": "nb201", "space_options": options, "dataset": "cifar10", "init_seed": 3}
    (path / CONFIG_FILE).write_text(json.dumps({"config": config, "run_id": path.name}))
    with HistoryWriter(path) as writer:
        for seed in seeds:
            arch = nb201.from_index(7 + seed)
            trial = Trial(0, nb201.format(arch), Kind.SCORE, Phase.SAMPLE)
            result = Result(Status.OK, value=1.0, score=1.0) if ok else Result(Status.FAILED, error="boom")
            row = history_row(
                run_id=path.name,
                algorithm="naswot",
                seed=seed,
                tell_order=0,
                trial=trial,
                result=result,
                arch_key=nb201.key(arch),
                fitness_name="",
                sim_start_s=0.0,
                sim_end_s=1.0,
                wall_s=0.1,
                incumbent=0 if ok else -1,
            )
            writer.append(row)
    return path


def test_round_trip_gives_the_built_networks_outputs(run_dir, tmp_path):
    result = export.export_run(run_dir, tmp_path / "model.pt", program=False)
    (choice,) = final_choices(load_history(run_dir)).to_dict("records")
    record = result.record
    assert record["arch"] == choice["arch"] and record["space"] == "nb201" and record["num_classes"] == 10
    space = get_space("nb201")
    built = build_seeded(space, space.parse(choice["arch"]), 10, init_seed=0).eval()
    loaded = export.load_exported(result.model)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = built(x)
        assert torch.equal(loaded(x), expected)
    assert not loaded.training and result.skipped == {} and "pt2" not in result.files


def test_torch_export_program_gives_the_same_outputs(tmp_path):
    run = hand_made_run(tmp_path / "tiny", seeds=(0,))
    result = export.export_run(run)
    space = get_space("nb201", channels=4, cells_per_stage=1)
    built = build_seeded(space, space.from_index(7), 10, init_seed=3).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        program = torch.export.load(result.files["pt2"]).module()
        assert torch.allclose(program(x), built(x), atol=1e-6)
        assert torch.equal(export.load_exported(result.model)(x), built(x))
    assert result.record["space_options"] == {"cells_per_stage": 1, "channels": 4}


def test_model_json_holds_the_costs(run_dir, tmp_path):
    result = export.export_run(run_dir, tmp_path / "net.pt", program=False)
    info = json.loads(result.info.read_text())
    space = get_space("nb201")
    index = space.index(space.parse(info["arch"]))
    assert info["arch_key"] == str(index)
    assert info["flops_m"] == pytest.approx(latency.flops_m(index), abs=5e-7)
    assert info["params_m"] == pytest.approx(info["benchmark_metrics"]["params_m"], abs=5e-7)
    assert set(info["latency_ms"]) == set(latency.LATENCY_DEVICES)
    assert info["latency_ms"]["hwnb_pixel3"] == latency.latency_ms(index, "hwnb_pixel3")
    assert info["files"] == {"pt": "net.pt", "json": "net.json"}
    assert export.export_record(result.model)["arch"] == info["arch"]


def test_cli(run_dir, tmp_path, capsys):
    assert export.main([str(run_dir), "--out", str(tmp_path / "m.pt"), "--no-pt2"]) == 0
    out = capsys.readouterr().out
    assert "M params" in out and "m.pt (pt)" in out and "m.json (json)" in out
    assert export.main([str(run_dir), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "must end in .pt" in capsys.readouterr().err
    assert export.main([str(run_dir), "--seed", "9"]) == 2
    assert "seed 9 is not a run" in capsys.readouterr().err
    assert export.main([str(tmp_path / "nope")]) == 2
    assert "no history at" in capsys.readouterr().err


def test_several_runs_need_a_seed(tmp_path):
    run = hand_made_run(tmp_path / "multi", seeds=(0, 1))
    with pytest.raises(export.ExportError, match=r"2 runs \(seeds 0..1\): choose one with --seed"):
        export.export_run(run)
    result = export.export_run(run, seed=1, program=False)
    assert result.model == run / "model.pt"
    assert result.record["arch"] == get_space("nb201").format(get_space("nb201").from_index(8))
    assert result.record["init_seed"] == 3


def test_a_run_that_chose_nothing(tmp_path):
    run = hand_made_run(tmp_path / "failed", seeds=(0,), ok=False)
    with pytest.raises(export.ExportError, match="chose no cell"):
        export.export_run(run)


def test_loading_refuses_other_files(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(export.ExportError, match="not a naswot export"):
        export.load_exported(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(export.ExportError, match="not a naswot export"):
        export.load_exported(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        export.load_exported(tmp_path / "missing.pt")


def test_the_tiny_network_has_no_table_latency(tmp_path):
    result = export.export_run(hand_made_run(tmp_path / "tiny", seeds=(0,)), program=False)
    assert result.record["latency_ms"] == {} and "measured_on" not in result.record


def test_a_skipped_format_removes_an_earlier_file(tmp_path, monkeypatch):
    run = hand_made_run(tmp_path / "run", seeds=(0,))
    export.export_run(run)
    assert (run / "model.pt2").is_file()

    def refuse(model, example, path):
        raise RuntimeError("cannot trace this network")

    monkeypatch.setattr(export, "_write_pt2", refuse)
    result = export.export_run(run)
    assert result.skipped == {"pt2": "RuntimeError: cannot trace this network"}
    assert not (run / "model.pt2").exists()
    assert json.loads(result.info.read_text())["skipped"] == result.skipped


def test_input_shapes_cover_the_datasets():
    assert set(export.INPUT_SHAPES) == set(DATASETS)
