#!/usr/bin/env bash
# The prepared device check of issue 9 (real training with Ray Tune): 4 random NB201 cells (full
# size, C=16, N=5), 12 epochs each, NAS-Bench-201's recipe, on the 10,000 CIFAR-10 images of
# ../shared/data/images/cifar10_test_10000.npz (5,000 train / 5,000 validation), 2 trials per GPU
# (--gpus-per-trial 0.5). Prints seconds per epoch (from curves.parquet) and the GPU utilisation
# sampled by nvidia-smi every second while the trials run. Run from the repository root:
#
#     bash scripts/gpu_train_check.sh [IMAGES_NPZ] [OUT_DIR]
#
# Exits non-zero when training fails or no GPU was used. Budget: about 3-5 minutes on one GPU.
set -euo pipefail
DEFAULT_NPZ=../shared/data/images/cifar10_test_10000.npz
[ -f "$DEFAULT_NPZ" ] || DEFAULT_NPZ=shared/data/images/cifar10_test_10000.npz
NPZ="${1:-$DEFAULT_NPZ}"
OUT="${2:-${OUT:-runs/gpu-check}}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -l 1 > "$OUT/gpu_util.csv" &
SMI=$!
trap 'kill $SMI 2>/dev/null || true' EXIT
GPUS=$(nvidia-smi -L | wc -l)
START=$(date +%s)
"$PY" -m orchestrator.random_search --oracle tune --budget 3000 --trials 4 --epochs 12 \
    --images-npz "$NPZ" --gpus-per-trial 0.5 --cpus-per-trial 1 --concurrent-trials $((2 * GPUS)) \
    --no-progress --out "$OUT" 2>&1 | tee "$OUT/run.log"
END=$(date +%s)
kill $SMI 2>/dev/null || true
RUN=$(ls -d "$OUT"/random-* | tail -1)
"$PY" - "$RUN" "$OUT/gpu_util.csv" "$((END - START))" <<'PYEOF'
import sys
import pandas as pd
from cluster.tune_run import load_curves
from orchestrator.history import load_history

run, util_csv, wall = sys.argv[1], sys.argv[2], float(sys.argv[3])
c = load_curves(run)
t = c[c.epoch >= 1]
h = load_history(run)
ev = h[h.kind == "evaluate"]
print(f"run {run}: {len(ev)} trials, {int((ev.status == 'ok').sum())} ok, devices {sorted(t.device.unique())}")
print(f"seconds per epoch (train + validation, 5,000 + 5,000 images): median {t.epoch_s.median():.2f}, "
      f"mean {t.epoch_s.mean():.2f}, min {t.epoch_s.min():.2f}, max {t.epoch_s.max():.2f}")
print(f"NASWOT score per epoch: median {t.score_s.median():.3f} s")
print(t.groupby("arch").agg(epochs=("epoch", "max"), s_per_epoch=("epoch_s", "median"),
                            final_acc=("valid_acc", "last")).to_string())
u = pd.read_csv(util_csv, header=None, names=["ts", "util", "mem"], skipinitialspace=True)
u["util"] = pd.to_numeric(u["util"], errors="coerce")
busy = u[u.util > 0]
print(f"GPU utilisation (nvidia-smi, 1 s samples over {wall:.0f} s wall): mean {u.util.mean():.1f} %, "
      f"mean while busy {busy.util.mean():.1f} %, peak memory {pd.to_numeric(u.mem, errors='coerce').max():.0f} MiB")
if not (t.device.str.startswith("cuda")).all() or (ev.status != "ok").any():
    sys.exit("FAILED: a trial did not run on the GPU or did not finish")
PYEOF
