#!/usr/bin/env bash
# The NASWOT paper's NAS-Bench-101 table on one GPU machine (the rows this CPU cannot finish): NASWOT
# N=100 over 500 runs and AREA (M=20, P=10) over 50 runs at several evaluation budgets, stem 128,
# batch 128, scored on Ray actors that share the GPU (--gpus-per-worker 0.25: 4 actors per GPU).
# Scores go to the shared store (runs/scores), so a rerun after an interruption recomputes nothing;
# the CPU rows (random, REA) cost seconds and run here too. Run from the repository root:
#
#     bash scripts/gpu_nb101_paper_table.sh [OUT_DIR]
#
# Budget: about 50,000 NB101 cells to score; at ~0.1 s per cell per actor on an H100, 10-20 minutes.
set -euo pipefail
OUT="${1:-runs/nb101-gpu}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
GPU=(--device cuda --workers 4 --gpus-per-worker 0.25 --no-progress --out "$OUT")
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
"$PY" -m orchestrator.random_search --space nb101 --max-evaluations 1 --runs 500 --no-progress --out "$OUT"
"$PY" -m orchestrator.naswot --space nb101 --n 100 --runs 500 "${GPU[@]}"
for B in 50 100 150 300; do
    "$PY" -m orchestrator.rea --space nb101 --max-evaluations "$B" --runs 50 --no-progress --out "$OUT"
    "$PY" -m orchestrator.area --space nb101 --max-evaluations "$B" --runs 50 "${GPU[@]}"
done
"$PY" -m orchestrator.correlate --space nb101 --n 1000 --seed 0 --proxies naswot --executor ray "${GPU[@]:0:6}" \
    --out "$OUT/corr"
"$PY" -m orchestrator.report "$OUT"/*-*/
