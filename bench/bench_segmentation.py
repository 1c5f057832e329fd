"""Building Segmentation figures (paper 002) on the CPU.

1. ``throughput``: tiled inference (250 × 250 windows, overlap 32, batch 8) of a
   1500 × 1500 sample scene, megapixels per second, median of ``--runs`` runs, for
   the quick-preset network (base width 16) and Table I's network (width 32).
2. ``memory``: peak memory while segmenting a 10,000 × 10,000 RGB image read
   through a memory map of an uncompressed TIFF (written first, ~300 MB on disk):
   Python-heap peak from ``tracemalloc`` (numpy arrays are traced; torch's
   allocations are not) and the process's peak resident set (``ru_maxrss``,
   which includes the mapped image pages read) measured from a fresh process.
3. ``train``: the quick preset (or ``--iters N``) of ``baseline`` and ``alpha0.5``
   on the small sample dataset, then test mIoU, pixel accuracy and mean accuracy
   from tiled inference over the 6 test images (goal mIoU ≥ 0.80).

Usage::

    python bench/bench_segmentation.py throughput [--runs 3] [--widths 16 32]
    python bench/bench_segmentation.py memory [--size 10000] [--width 16]
    python bench/bench_segmentation.py train [--variants baseline alpha0.5] [--iters N] [--batch 16]

Set STUDIO_HOME to keep the generated sample data and runs out of your own folder.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class Ctx:
    """A console job context (no pool)."""

    def __init__(self, device="cpu"):
        import torch

        self.device = torch.device(device)
        self.run = None
        self._last = -1
        self.t0 = time.time()

    def progress(self, done, total, message=""):
        decile = int(10 * done / max(1, total))
        if decile != self._last:
            self._last = decile
            print(f"  [{time.time() - self.t0:7.0f} s] {100 * done / max(1, total):5.1f}% {message}", flush=True)

    def metric(self, name, value, step, epoch=None):
        if name.endswith(("val/miou", "test/miou")):
            print(f"  [{time.time() - self.t0:7.0f} s] {name} = {value:.4f} at step {step}", flush=True)

    def log(self, text):
        print(f"  {text}", flush=True)

    def check(self):
        pass

    def set_final_metrics(self, metrics):
        pass


def untrained(width: int):
    """A network of the given base width with batch-norm statistics of real data (speed only)."""
    from studio.segmentation.jobs import _widths
    from studio.segmentation.models import build_model

    return build_model("baseline", widths=_widths(width)).eval()


def bench_throughput(runs: int, widths: list[int]) -> None:
    import torch

    from studio.segmentation.synthetic import generate_scene
    from studio.segmentation.tiling import predict_tiled

    image, _ = generate_scene(0, 1500)
    print(f"torch threads: {torch.get_num_threads()}; image 1500 × 1500 (2.25 MP)")
    for width in widths:
        model = untrained(width)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            predict_tiled(model, image, tile=250, overlap=32, batch=8)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        print(f"base width {width}: median {med:.2f} s over {runs} runs -> {2.25 / med:.3f} MP/s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)


def _memory_child(path: str, width: int) -> None:
    import tracemalloc

    from studio.segmentation.io import open_image
    from studio.segmentation.tiling import predict_tiled

    model = untrained(width)
    image = open_image(path)
    assert hasattr(image, "filename") or type(image).__name__ == "memmap", "expected a memory map"
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    t = time.perf_counter()
    prob = predict_tiled(model, image, tile=250, overlap=32, batch=8)
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"size": image.shape[:2], "seconds": round(seconds, 1),
                      "mp_per_s": round(image.shape[0] * image.shape[1] / 1e6 / seconds, 3),
                      "tracemalloc_peak_mb": round(peak / 2**20, 1), "rss_before_mb": round(base_rss, 1),
                      "peak_rss_mb": round(rss, 1), "result_mb": round(prob.nbytes / 2**20, 1)}))


def bench_memory(size: int, width: int) -> None:
    import numpy as np
    import tifffile

    from studio.segmentation.synthetic import generate_scene

    folder = Path(tempfile.mkdtemp(prefix="seg-bench-"))
    path = folder / f"big_{size}.tif"
    scene, _ = generate_scene(1, 1500)
    out = tifffile.memmap(path, shape=(size, size, 3), dtype=np.uint8, photometric="rgb")
    for y in range(0, size, 1500):
        for x in range(0, size, 1500):
            h, w = min(1500, size - y), min(1500, size - x)
            out[y:y + h, x:x + w] = scene[:h, :w]
    out.flush()
    del out
    print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MB); segmenting in a fresh process…", flush=True)
    proc = subprocess.run([sys.executable, __file__, "_memory_child", str(path), str(width)], capture_output=True,
                          text=True)
    print(proc.stdout.strip() or proc.stderr[-2000:])
    path.unlink()
    folder.rmdir()


def bench_train(variants: list[str], iters: int | None, batch: int, preset: str) -> None:
    from studio.segmentation.jobs import SegTrainConfig, train_segmentation

    rows = []
    for variant in variants:
        cfg = SegTrainConfig(variant=variant, preset=preset, iters=iters, batch=batch, sample_preset="small")
        print(f"== {variant}: {cfg.resolved()} batch {batch}", flush=True)
        t = time.time()
        r = train_segmentation(Ctx(), cfg)
        m = r.metrics
        rows.append((variant, r.params, r.gflops, m.get("test/miou"), m.get("test/pixel_acc"), m.get("test/mean_acc"),
                     time.time() - t))
    print(f"\n{'variant':<10} {'params':>10} {'GFLOPs':>7} {'mIoU':>7} {'pix acc':>8} {'mean acc':>9} {'minutes':>8}")
    for v, p, g, mi, pa, ma, s in rows:
        print(f"{v:<10} {p:>10,} {g:>7.2f} {mi:>7.4f} {pa:>8.4f} {ma:>9.4f} {s / 60:>8.1f}")
    print("goal: mIoU >= 0.80 ->", "met" if rows and min(r[3] for r in rows) >= 0.80 else "NOT met")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_memory_child":
        _memory_child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--widths", type=int, nargs="+", default=[16, 32], help="base widths of the networks")
    p = sub.add_parser("memory")
    p.add_argument("--size", type=int, default=10_000)
    p.add_argument("--width", type=int, default=16)
    p = sub.add_parser("train")
    p.add_argument("--variants", nargs="+", default=["baseline", "alpha0.5"])
    p.add_argument("--iters", type=int)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--preset", default="quick")
    args = parser.parse_args()
    if args.what == "throughput":
        bench_throughput(args.runs, args.widths)
    elif args.what == "memory":
        bench_memory(args.size, args.width)
    else:
        bench_train(args.variants, args.iters, args.batch, args.preset)


if __name__ == "__main__":
    os.environ.setdefault("STUDIO_HOME", str(Path(tempfile.gettempdir()) / "studio-bench-seg"))
    main()
