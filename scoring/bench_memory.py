"""Memory and time of scoring the NDS spaces (a script that prints figures, not a test).

    python -m scoring.bench_memory --width 32 --depth 20 --batch 128 --cells 3

For each space (``--spaces``, default the five NDS spaces) a fresh child process loads torch and one
CIFAR-10 batch, then for ``--cells`` sampled cells at the given width and depth: builds the network
(timed), scores it with NASWOT (one hooked forward in train mode under ``no_grad``, channels-last
input, exact code products; timed, wall and CPU: the cost a search pays for a new cell), runs the
same forward again without hooks (warm caches; the hooks' share), and reads the process's peak
resident set (``VmHWM``), which it resets before each cell (``/proc/self/clear_refs``), so each
figure is the peak of that one cell on top of what the process already held. The parent prints a Markdown table: median build and score
seconds per cell (wall and CPU), the warm forward pass without hooks, the largest per-cell peak RSS,
the baseline RSS before scoring, parameters and ReLU units per image; and the time of one code
product of the kernel against a float32 matmul on this CPU. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

NDS_SPACES = ("nds_darts", "nds_enas", "nds_amoeba", "nds_nasnet", "nds_pnas")


def _status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MiB (from ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(space_name: str, width: int, depth: int, batch: int, cells: int, seed: int) -> dict:
    """Measure one space in this process; returns the figures as a dict."""
    import numpy as np
    import torch

    from scoring.data import load_batch
    from scoring.naswot import KernelAccumulator, log_abs_det, relu_hooks
    from search_spaces import get_space

    space = get_space(space_name, width=width, depth=depth)
    images = load_batch("cifar10", batch, 0)[0]
    rng = np.random.default_rng(seed)
    rows = []
    base = _status_mb("VmRSS")
    resettable = _reset_peak()
    for _ in range(cells):
        cell = space.sample(rng)
        if resettable:
            _reset_peak()
        before = _status_mb("VmRSS")
        torch.manual_seed(0)
        t0 = time.perf_counter()
        model = space.build(cell, 10)
        t_build = time.perf_counter() - t0
        x = images.contiguous(memory_format=torch.channels_last)
        model.train()
        accumulator = KernelAccumulator()
        c0, t0 = time.process_time(), time.perf_counter()
        with relu_hooks(model, accumulator), torch.no_grad():  # what a search pays: the first pass
            model(x)
        score = log_abs_det(accumulator.result())
        t_score, c_score = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        with torch.no_grad():  # the same pass again without hooks (warm), for the hooks' share
            model(x)
        t_fwd = time.perf_counter() - t0
        rows.append(
            {
                "build_s": t_build,
                "score_s": t_score,
                "score_cpu_s": c_score,
                "forward_s": t_fwd,
                "peak_mb": _status_mb("VmHWM"),
                "before_mb": before,
                "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
                "units": accumulator.num_units,
                "relus": accumulator.num_relus,
                "score": score,
            }
        )
        del model, accumulator
    return {
        "space": space_name,
        "width": width,
        "depth": depth,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "base_mb": base,
        "peak_resettable": resettable,
        "rows": rows,
    }


def gram_speed(units: int = 16384, batch: int = 128, repeats: int = 3) -> dict[str, float]:
    """Seconds of one (batch x units) 0/1 code product C C^T: the kernel's own ``binary_gram``
    (int8 on the CPU) and a plain float32 matmul, best of ``repeats``."""
    import torch

    from scoring.naswot import binary_gram

    codes = torch.rand(batch, units, generator=torch.Generator().manual_seed(0)) > 0.5
    as_float = codes.to(torch.float32)

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    return {"binary_gram_s": best(lambda: binary_gram(codes)), "float32_s": best(lambda: as_float @ as_float.T)}


def _run_child(args, space: str) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "scoring.bench_memory",
        "--child",
        space,
        "--width",
        str(args.width),
        "--depth",
        str(args.depth),
        "--batch",
        str(args.batch),
        "--cells",
        str(args.cells),
        "--seed",
        str(args.seed),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"{space}: child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def format_table(results: list[dict]) -> str:
    """The figures as a Markdown table (medians over cells; the largest peak)."""
    head = (
        "| space | width | depth | batch | params (M) | ReLU units / image | build (s) | score (s) "
        "| score CPU (s) | warm forward, no hooks (s) | peak RSS (MiB) | baseline RSS (MiB) |"
    )
    lines = [head, "|" + "---|" * 12]
    keys = ("build_s", "score_s", "score_cpu_s", "forward_s", "params_m", "units")
    for r in results:
        rows = r["rows"]
        med = {k: statistics.median(x[k] for x in rows) for k in keys}
        lines.append(
            f"| {r['space']} | {r['width']} | {r['depth']} | {r['batch']} | {med['params_m']:.2f} "
            f"| {med['units'] / 1e6:.2f}M | {med['build_s']:.2f} | {med['score_s']:.1f} | {med['score_cpu_s']:.1f} "
            f"| {med['forward_s']:.2f} | {max(x['peak_mb'] for x in rows):.0f} | {r['base_mb']:.0f} |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scoring.bench_memory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--spaces", default=",".join(NDS_SPACES), help="comma list of registered spaces with width/depth")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--cells", type=int, default=3, help="sampled cells per space")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write every per-cell figure to this file")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.width, args.depth, args.batch, args.cells, args.seed)))
        return 0
    results = []
    for space in [s.strip() for s in args.spaces.split(",") if s.strip()]:
        result = _run_child(args, space)
        results.append(result)
        print(f"{space}: done", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    import torch

    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    speed = gram_speed()
    print(
        f"one 128 x 16384 code product: binary_gram {speed['binary_gram_s'] * 1e3:.0f} ms, "
        f"float32 matmul {speed['float32_s'] * 1e3:.0f} ms"
    )
    print(f"threads: {results[0]['threads']}; peak RSS is per cell (VmHWM reset before each)")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
