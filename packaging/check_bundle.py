"""Check a built one-folder bundle: size, start-up time, a rendered window, the CLI.

    python packaging/check_bundle.py dist/inspection-studio [--runs 3]

Runs the bundled ``inspection-studio`` offscreen (``QT_QPA_PLATFORM=offscreen``, a
throw-away ``STUDIO_HOME``):
- ``STUDIO_STARTUP_PROBE`` / ``STUDIO_EXIT_AFTER_PAINT``: seconds from launch to the
  main window's first paint (median of ``--runs``);
- ``--check-imports``: every registered workbench module imports in the bundle (the
  screenshot alone would not show a tab that failed to load);
- ``--screenshot``: seconds until the loaded window (torch imported) is written as
  a PNG, and that the PNG is a real picture (not one flat colour);
- ``studio-cli info --json`` from the bundle (versions, device).
Prints the figures and exits 1 when one of the checks fails.  Not part of the tests
(a build takes many minutes and GBs); see packaging/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def folder_size(path: Path) -> tuple[int, int]:
    total = files = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
            files += 1
    return total, files


def executable(bundle: Path, name: str) -> Path:
    for candidate in (bundle / name, bundle / f"{name}.exe",
                      bundle.parent / "Inspection Studio.app" / "Contents" / "MacOS" / name):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"{bundle}: no {name} executable in the bundle; build it with `make package` first")


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "DISPLAY",
                                                             "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(home))
    return env


def first_paint_seconds(exe: Path, env: dict[str, str], timeout: float) -> float:
    t0 = time.time()
    proc = subprocess.run([str(exe)], env={**env, "STUDIO_STARTUP_PROBE": "1", "STUDIO_EXIT_AFTER_PAINT": "1"},
                          capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("FIRST_PAINT "):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no first paint reported (exit {proc.returncode}): {proc.stderr[-2000:]}")


def picture_is_real(png: Path) -> tuple[bool, str]:
    """True when the PNG has a plausible size and more than a handful of colours."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PySide6 import QtGui
    except ImportError:
        return png.stat().st_size > 10_000, f"{png.stat().st_size} bytes (PySide6 not here to look inside)"
    image = QtGui.QImage(str(png))
    if image.isNull():
        return False, "not a readable PNG"
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    return image.width() >= 600 and len(colours) > 20, f"{image.width()}x{image.height()}, {len(colours)} colours sampled"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default="dist/inspection-studio", help="the one-folder bundle")
    parser.add_argument("--runs", type=int, default=3, help="launches for the first-paint median")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--keep", help="copy the screenshot here")
    args = parser.parse_args(argv)
    bundle = Path(args.bundle).resolve()
    if not bundle.is_dir():
        print(f"{bundle}: no such bundle folder; build it with `make package`", file=sys.stderr)
        return 2
    gui, cli = executable(bundle, "inspection-studio"), executable(bundle, "studio-cli")
    ok = True
    size, files = folder_size(bundle)
    print(f"bundle: {bundle}")
    print(f"bundle size: {size / 2**20:.0f} MiB in {files} files")
    largest = sorted(((p.stat().st_size, p) for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()),
                     reverse=True)[:5]
    for s, p in largest:
        print(f"  {s / 2**20:8.1f} MiB  {p.relative_to(bundle)}")

    with tempfile.TemporaryDirectory(prefix="studio-bundle-check-") as tmp:
        tmp_path = Path(tmp)
        env = environment(tmp_path / "home")
        paints = []
        for i in range(args.runs):
            try:
                paints.append(first_paint_seconds(gui, env, args.timeout))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"first paint, launch {i + 1}: FAILED {exc}")
                ok = False
        if paints:
            print(f"start-up to first paint: median {statistics.median(paints):.2f} s "
                  f"(launches: {', '.join(f'{p:.2f}' for p in paints)}; the first one includes a cold disk cache)")

        proc = subprocess.run([str(gui), "--check-imports"], env=env, capture_output=True, text=True,
                              timeout=args.timeout)
        print("workbench modules in the bundle:\n" + proc.stdout.rstrip())
        if proc.returncode != 0:
            ok = False
            print(f"workbench import check FAILED (exit {proc.returncode}) {proc.stderr[-2000:]}")

        png = tmp_path / "bundle.png"
        t0 = time.time()
        proc = subprocess.run([str(gui), "--screenshot", str(png)], env=env, capture_output=True, text=True,
                              timeout=args.timeout)
        seconds = time.time() - t0
        real, detail = picture_is_real(png) if png.is_file() else (False, "no file written")
        print(f"--screenshot (window loaded, torch imported): exit {proc.returncode} after {seconds:.2f} s; "
              f"PNG {detail}")
        if proc.returncode != 0 or not real:
            ok = False
            print(proc.stderr[-3000:])
        elif args.keep:
            Path(args.keep).write_bytes(png.read_bytes())
            print(f"screenshot copied to {args.keep}")

        t0 = time.time()
        proc = subprocess.run([str(cli), "info", "--json"], env=env, capture_output=True, text=True,
                              timeout=args.timeout)
        seconds = time.time() - t0
        try:
            info = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"studio-cli info: {seconds:.2f} s; studio {info['studio']}, torch {info['torch']}, "
                  f"PySide6 {info['PySide6']}, device {info['device']}")
        except (ValueError, IndexError, KeyError):
            ok = False
            print(f"studio-cli info FAILED (exit {proc.returncode}): {proc.stderr[-2000:]}")
    print("bundle check: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
