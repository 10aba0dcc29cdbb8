#!/usr/bin/env bash
# Issue 17's prepared GPU study: every NB201 cell (15,625) scored with every registered proxy on
# CIFAR-10, CIFAR-100 and ImageNet16-120 (batch 128, batch seed 0, init seed 0), into the shared
# score store, then the full-space correlation table with the fitted fusion. Resumable: scored cells
# are skipped, so a second run (or a run after a time-out) continues. Run from the repository root:
#
#     bash scripts/gpu_all_proxies.sh [STORE] [OUT_DIR]
#
# Each dataset runs in its own process on the one GPU (three processes share it). Afterwards, ship
# the scores with `python -m scoring.ship_scores --store STORE --space nb201 --dataset D --name ...`.
set -euo pipefail
STORE="${1:-runs/scores}"
OUT="${2:-runs/gpu-all-proxies}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
mkdir -p "$OUT"
PROXIES=$("$PY" -c "from scoring.proxies import available_proxies; print(','.join(available_proxies()))")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for DATASET in cifar10 cifar100 imagenet16; do
    "$PY" -m scoring.sweep --all --dataset "$DATASET" --proxies "$PROXIES" --device cuda --store "$STORE" \
        > "$OUT/sweep_$DATASET.log" 2>&1 &
done
wait
"$PY" -m orchestrator.correlate --dataset cifar10,cifar100,imagenet16 --n 15625 --seed 0 --proxies "$PROXIES" \
    --fit-fusion --store "$STORE" --out "$OUT" --no-progress | tee "$OUT/correlations.txt"
