"""Audio Enhancement figures (paper 003), on the CPU unless --device says otherwise.

1. Featurisation throughput: the same N synthetic 4 s clips turned into normalised
   40-band log-mel spectra (512-point Hamming STFT, hop 256) by
   :func:`studio.audio.features.mel_features` (one batched torch call) and by
   ``librosa.feature.melspectrogram`` called per clip (same window, hop, centre=False,
   Slaney mel; plus ``power_to_db(top_db=80)`` and min-max, i.e. the same output; the
   script checks the two agree).  Clips/s of each, median of --repeats runs, and the
   ratio (goal ≥ 3×).
2. DSL inference throughput (features → mask → enhanced → frozen CNN-FC logits),
   clips/s at the paper's sizes (width 1.0) and at --width, batch --batch, median of
   --repeats.
3. A Table 2 style grid on the sample dataset: CNN-FC trained first (Adam 1e-3,
   batch 64, --cnn-epochs), DSL trained through the frozen CNN-FC (--dsl-epochs,
   channel width --width), both evaluated on the clean dev/test folds and on the
   test fold with pink and babble noise at 5 and 0 dB (--noises, --snrs); prints
   whether DSL beats CNN-FC in each cell.  ``--classifier RUN`` reuses a trained
   CNN-FC run instead of training one.

Usage::

    python bench/bench_audio.py                       # all three
    python bench/bench_audio.py --skip-grid           # the throughput figures only
    python bench/bench_audio.py --skip-features --skip-inference --preset small \\
        --cnn-epochs 30 --dsl-epochs 10 --width 0.25 --out /tmp/audio-bench

The sample dataset is generated on first use into $STUDIO_HOME and cached.

Measured on the 2-core development VM (shared, load ~11), 2026-12-01:
[1] 117.5 vs 19.1 clips/s, 6.2x librosa (64 clips, features equal to 6e-6);
[2] DSL 0.43 clips/s at the paper's sizes (48.6 M enhancer parameters), 2.3 at width 0.25;
[3] "full" preset (100 test clips), CNN-FC 15 epochs (dev/test 97/97 %), DSL width 0.125
    5 epochs (92/90 %): pink 5 dB 58 -> 61, pink 0 dB 38 -> 46, babble 5 dB 66 -> 62,
    babble 0 dB 46 -> 35 (CNN-FC -> DSL, %); "small" preset (20 test clips), CNN-FC 30
    epochs, DSL width 0.25 10 epochs: pink 40 -> 55 / 45 -> 30, babble 50 -> 50 / 35 -> 35.
The paper-size DSL (width 1) was not trained: on this CPU one epoch would take hours.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def clips_for_bench(n: int) -> np.ndarray:
    from studio.audio.synthetic import CLASSES, synthesize_clip

    return np.stack([synthesize_clip(CLASSES[i % len(CLASSES)], 1000 + i) for i in range(n)])


def librosa_features(clip: np.ndarray) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=512, hop_length=256, window="hamming",
                                         center=False, n_mels=40, power=2.0)
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
    lo, hi = db.min(), db.max()
    return (db - lo) / (hi - lo) if hi > lo else np.zeros_like(db)


def bench_features(n: int, repeats: int) -> None:
    import torch

    from studio.audio.features import mel_features

    print(f"[1] featurisation of {n} clips of 4 s (40 × 249 normalised log-mel)")
    clips = clips_for_bench(n)
    batch = torch.from_numpy(clips)
    ours = mel_features(batch)  # warm-up (builds window and filterbank)
    ref = np.stack([librosa_features(c) for c in clips])  # warm-up (librosa's caches, numba)
    diff = float(np.abs(ours.numpy() - ref).max())
    t_ours, t_lib = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        mel_features(batch)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for c in clips:
            librosa_features(c)
        t_lib.append(time.perf_counter() - t0)
    ours_rate, lib_rate = n / statistics.median(t_ours), n / statistics.median(t_lib)
    print(f"    studio mel_features (batched torch): {ours_rate:8.1f} clips/s  (median of {repeats})")
    print(f"    librosa melspectrogram per clip:     {lib_rate:8.1f} clips/s  (median of {repeats})")
    print(f"    ratio: {ours_rate / lib_rate:.2f}x  (goal >= 3x); max |difference| of the features {diff:.2e}")


def bench_inference(width: float, batch: int, repeats: int) -> None:
    import torch

    from studio.audio.models import EnhancedClassifier, build_model, count_parameters

    print(f"[2] DSL inference on {torch.get_num_threads()} CPU threads, batch {batch}")
    x = torch.rand(batch, 40, 249)
    for w in sorted({1.0, width}, reverse=True):
        net = EnhancedClassifier(build_model("dsl", width=w), build_model("cnn", width=w)).eval()
        times = []
        with torch.no_grad():
            net(x[:2])
            for _ in range(repeats):
                t0 = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - t0)
        print(f"    width {w:g} ({count_parameters(net.enhancer) / 1e6:.2f} M enhancer parameters): "
              f"{batch / statistics.median(times):7.2f} clips/s  (median of {repeats})")


def bench_grid(args) -> None:
    from studio.audio import jobs as au
    from studio.engine import JobPool, RunRegistry, RunSpec
    from studio.engine.device import resolve_device

    device = resolve_device(args.device)
    out = Path(args.out)
    pool = JobPool(RunRegistry())
    t_all = time.time()

    def run(fn, cfg, name, run_dir=None, model="x"):
        t0 = time.time()
        job = pool.run(fn, cfg, name=name, workbench="audio", device=device,
                       run=RunSpec("audio", model, getattr(cfg, "to_dict", lambda: {})(), run_dir=run_dir))
        if job.status != "done":
            print(f"    {name} {job.status}: {job.error}\n{job.traceback}", file=sys.stderr)
            raise SystemExit(1)
        print(f"    {name}: {time.time() - t0:.0f} s")
        return job.result

    print(f"[3] Table 2 style grid on the '{args.preset}' sample dataset, device {device}")
    classifier = args.classifier
    if classifier is None:
        classifier = str(out / "cnn")
        cfg = au.AudioTrainConfig(sample_preset=args.preset, model="cnn", epochs=args.cnn_epochs, seed=args.seed)
        r = run(au.train_audio, cfg, f"train CNN-FC ({args.cnn_epochs} epochs)", classifier, "cnn")
        print(f"      CNN-FC dev {100 * r.metrics['dev/accuracy']:.2f} %  test {100 * r.metrics['test/accuracy']:.2f} %")
    cfg = au.AudioTrainConfig(sample_preset=args.preset, model="dsl", epochs=args.dsl_epochs, width=args.width,
                              classifier=classifier, seed=args.seed)
    dsl_dir = str(out / f"dsl-w{args.width:g}")
    r = run(au.train_audio, cfg, f"train DSL through the frozen CNN-FC ({args.dsl_epochs} epochs, width {args.width:g})",
            dsl_dir, "dsl")
    results = {}
    for name, path in (("CNN-FC", classifier), ("DSL", dsl_dir)):
        ecfg = au.AudioEvalConfig(model=path, noises=tuple(args.noises), snrs=tuple(args.snrs), seed=args.seed)
        results[name] = run(au.evaluate_audio, ecfg, f"evaluate {name}", None, "evaluate")
    n_test = results["CNN-FC"]["n_test"]
    print(f"\n    accuracy in % on {n_test} test clips ({results['CNN-FC']['n_dev']} dev clips); "
          f"one clip = {100 / n_test:.1f} points")
    header = f"    {'':>12}" + "".join(f"{n:>10}" for n in results)
    print(header + "   DSL − CNN-FC")
    for split in ("dev", "test"):
        a, b = results["CNN-FC"]["clean"][split], results["DSL"]["clean"][split]
        print(f"    {'clean ' + split:>12}{100 * a:>10.2f}{100 * b:>10.2f}   {100 * (b - a):+.2f}")
    wins = cells = 0
    for noise in args.noises:
        for snr in args.snrs:
            a = results["CNN-FC"]["grid"][noise][snr]
            b = results["DSL"]["grid"][noise][snr]
            wins += b > a
            cells += 1
            verdict = "DSL better" if b > a else ("tie" if b == a else "CNN-FC better")
            print(f"    {f'{noise} {snr:g} dB':>12}{100 * a:>10.2f}{100 * b:>10.2f}   {100 * (b - a):+.2f}  {verdict}")
    print(f"    DSL beats CNN-FC in {wins} of {cells} noisy cells; total {time.time() - t_all:.0f} s")
    pool.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=64, help="clips for the featurisation benchmark")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=16, help="batch of the DSL inference benchmark")
    ap.add_argument("--width", type=float, default=0.25, help="DSL channel width for [2] and [3]")
    ap.add_argument("--skip-features", action="store_true")
    ap.add_argument("--skip-inference", action="store_true")
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--preset", default="small", choices=("small", "full"))
    ap.add_argument("--cnn-epochs", type=int, default=30)
    ap.add_argument("--dsl-epochs", type=int, default=10)
    ap.add_argument("--classifier", help="a trained CNN-FC run folder to reuse")
    ap.add_argument("--noises", nargs="+", default=["pink", "babble"])
    ap.add_argument("--snrs", nargs="+", type=int, default=[5, 0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="bench-audio-runs", help="folder for the runs of [3]")
    args = ap.parse_args()
    if not args.skip_features:
        bench_features(args.clips, args.repeats)
    if not args.skip_inference:
        bench_inference(args.width, args.batch, args.repeats)
    if not args.skip_grid:
        bench_grid(args)


if __name__ == "__main__":
    main()
