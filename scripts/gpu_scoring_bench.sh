#!/usr/bin/env bash
# The prepared device check of issue 19: NASWOT scoring throughput on one GPU with 1, 2, 4 and 8
# Ray actors sharing it (fractional --gpus-per-worker 1/W), NB201 cells at batch 128 (each line also
# gives the milliseconds per cell inside the actor). Run from the repository root:
#
#     bash scripts/gpu_scoring_bench.sh [CELLS] [OUT_DIR]
#
# Prints cells/s per W (target: >= 300 NB201 cells/s on one H100/H200). Budget: 3-6 minutes.
set -euo pipefail
CELLS="${1:-256}"
OUT="${2:-runs/gpu-scoring}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for W in 1 2 4 8; do
    SHARE=$("$PY" -c "print(1 / $W)")
    "$PY" -m orchestrator.bench scoring --workers "$W" --cells "$CELLS" --batch 128 --device cuda \
        --gpus-per-worker "$SHARE" --cpus-per-worker 1 2>&1 | tee -a "$OUT/throughput.txt"
done
