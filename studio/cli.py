"""``studio-cli``: the headless entry point.

It runs the same job functions as the GUI, on the same :class:`JobPool`, with a
text progress bar instead of the Jobs dock.  ``--json`` makes the last line of
standard output one JSON object.  Exit codes: 0 done, 1 failed, 2 bad arguments
or input, 130 cancelled (Ctrl+C cancels the job cleanly).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import metadata
from typing import Any, Callable

from studio import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class ProgressPrinter:
    """A job listener drawing a progress bar on stderr (a line per 10 % when not a TTY)."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_decile = -1

    def __call__(self, event) -> None:
        job = event.job
        if event.kind == "progress":
            frac = job.fraction()
            eta = job.eta()
            eta_txt = f" ETA {_hms(eta)}" if eta is not None else ""
            if self.tty:
                filled = int(frac * self.width)
                bar = "#" * filled + "-" * (self.width - filled)
                self.stream.write(f"\r[{bar}] {frac * 100:5.1f}% {job.message[:50]:<50}{eta_txt}")
                self.stream.flush()
            else:
                decile = int(frac * 10)
                if decile != self._last_decile:
                    self._last_decile = decile
                    self.stream.write(f"{frac * 100:5.1f}% {job.message}{eta_txt}\n")
        elif event.kind == "log":
            self.stream.write(("\n" if self.tty else "") + event.data["text"] + "\n")
        elif event.kind == "status" and event.data["status"] in ("done", "failed", "cancelled"):
            if self.tty:
                self.stream.write("\n")
            self.stream.write(f"{job.name}: {event.data['status']} after {_hms(job.elapsed())}"
                              + (f" — {job.error}" if job.error else "") + "\n")
            self.stream.flush()


def _fraction_or_off(text: str) -> float | str:
    """A fraction in [0, 1) or the word 'off' (argparse type)."""
    if text.strip().lower() == "off":
        return "off"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1) or 'off', got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1) or 'off', got {text!r}")
    return value


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _emit_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=_json_default))


def _refuse(args, message: str) -> int:
    """Bad input found before a job starts: the message on stderr (and as JSON); exit 2."""
    print(f"studio-cli: {message}", file=sys.stderr)
    if args.json:
        _emit_json({"status": "failed", "error": message})
    return EXIT_USAGE


def _json_default(obj: Any) -> Any:
    try:
        return float(obj)
    except (TypeError, ValueError):
        return str(obj)


def _resolve_device(pref: str) -> str:
    from studio.engine.device import resolve_device

    return resolve_device(pref)


def _out(path):
    """An output path for a job: the path on the process that writes, None on ranks > 0 under torchrun."""
    from studio.engine.distributed import main_process_output

    return main_process_output(path)


def run_job(fn: Callable, config: Any, args, *, name: str, workbench: str, run=None, kind: str = "train"):
    """Run one job in the foreground with a progress bar; returns (job, exit code).

    Ctrl+C cancels the job at its next ``ctx.check()`` and waits for it to stop (a
    training keeps its last checkpoint); the exit code is then 130.  Under torchrun
    only rank 0 records the run and draws the bar; output paths go through :func:`_out`.
    """
    from studio.engine import JobPool, RunRegistry
    from studio.engine import distributed

    device = _resolve_device(args.device)
    if distributed.launched_distributed():  # under torchrun: only rank 0 records runs and writes files
        device = distributed.device_for_rank(device)
        distributed.init_from_env(device)
    main_process = distributed.is_main_process()
    registry = RunRegistry() if main_process else None
    if registry is not None and registry.recovery_message:
        print(registry.recovery_message, file=sys.stderr)
    pool = JobPool(registry)
    if not getattr(args, "quiet", False) and main_process:
        pool.subscribe(ProgressPrinter())
    job = pool.run(fn, config, name=name, workbench=workbench, device=device, kind=kind, run=run)
    pool.shutdown(cancel=True, wait=False)
    code = {"done": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(job.status, EXIT_FAILED)
    if job.status == "failed" and job.user_error:
        code = EXIT_USAGE
    if job.status == "failed" and getattr(args, "verbose", False):
        print(job.traceback, file=sys.stderr)
    return job, code


def _reply(job, **fields) -> dict[str, Any]:
    """A job's JSON reply: status, error, its run (None on ranks > 0 under torchrun), device, seconds, ``fields``."""
    return {"status": job.status, "error": job.error, "run_id": job.run.id if job.run else None,
            "run_dir": str(job.run.dir) if job.run else None, "device": job.device,
            "seconds": round(job.elapsed(), 2), **fields}


def _finish(args, job, code: int, reply: dict[str, Any], show: Callable[[], None] | None = None) -> int:
    """The end of a job command: a failed job's message on stderr; the JSON reply (``--json``), or the text
    ``show`` prints when the job has a result.  Returns ``code``."""
    if job.result is None and job.error:
        print(f"studio-cli: {job.error}", file=sys.stderr)
    if args.json:
        _emit_json(reply)
    elif job.result is not None and show is not None:
        show()
    return code


def _saved_in(job) -> None:
    if job.run is not None:  # None on ranks > 0 of a torchrun launch
        print(f"model saved in {job.run.dir}")


def _top3(probs: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1])[:3])


# ---------------------------------------------------------------- commands
def cmd_info(args) -> int:
    from studio.engine.device import describe_device, resolve_device

    import torch  # noqa: F401  (the device line needs it)

    device = resolve_device(args.device)
    info = {
        "studio": __version__,
        "python": sys.version.split()[0],
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "torchaudio": _version("torchaudio"),
        "PySide6": _version("PySide6"),
        "pyqtgraph": _version("pyqtgraph"),
        "numpy": _version("numpy"),
        "device": device,
        "device_detail": describe_device(device),
    }
    from studio.engine.registry import studio_home

    info["studio_home"] = str(studio_home())
    if args.json:
        _emit_json(info)
    else:
        for key, value in info.items():
            print(f"{key:>14}: {value}")
    return EXIT_OK


def cmd_selfcheck(args) -> int:
    from studio.engine import RunSpec
    from studio.engine.selfcheck import SelfCheckConfig, train_selfcheck
    from studio.engine.training import FitConfig

    fit = FitConfig(optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, iterations=args.iters,
                    batch_size=args.batch, schedule=args.schedule, seed=args.seed)
    cfg = SelfCheckConfig(fit=fit)
    job, code = run_job(train_selfcheck, cfg, args, name="Engine check (spiral MLP)", workbench="engine",
                        run=RunSpec("engine", "selfcheck-mlp", cfg.to_dict()))
    r, reply = job.result, _reply(job)
    if r is not None:
        reply.update(metrics=r.metrics, checkpoint=job.run.checkpoint if job.run else None)

    def show() -> None:
        for k, v in sorted(r.metrics.items()):
            print(f"{k:>16}: {v:.4f}")

    return _finish(args, job, code, reply, show)


def cmd_runs(args) -> int:
    from studio.engine import RunRegistry

    reg = RunRegistry()
    if reg.recovery_message:
        print(reg.recovery_message, file=sys.stderr)
    if args.runs_cmd == "list":
        runs = reg.list_runs(workbench=args.workbench, limit=args.limit)
        if args.json:
            _emit_json({"runs": [{"id": r.id, "workbench": r.workbench, "model": r.model, "status": r.status,
                                  "device": r.device, "created": r.created, "final_metrics": r.final_metrics,
                                  "checkpoint": r.checkpoint} for r in runs]})
            return EXIT_OK
        for r in runs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in list(r.final_metrics.items())[:3]
                                if isinstance(v, (int, float)))
            print(f"#{r.id:<5} {when}  {r.workbench:<12} {r.model:<16} {r.status:<11} {r.device:<7} {metrics}")
        return EXIT_OK
    try:
        run = reg.get(args.run_id)
    except KeyError as exc:
        return _refuse(args, exc.args[0])
    if args.runs_cmd == "show":
        data = {"id": run.id, "workbench": run.workbench, "model": run.model, "status": run.status,
                "device": run.device, "config": run.config, "final_metrics": run.final_metrics,
                "checkpoint": run.checkpoint, "message": run.message, "dir": str(run.dir),
                "metrics": reg.metric_names(run.id)}
        print(json.dumps(data, indent=None if args.json else 2, default=_json_default))
        return EXIT_OK
    if args.runs_cmd == "export":
        try:
            n = reg.export_metrics_csv(run.id, args.out if args.out != "-" else sys.stdout)
        except OSError as exc:
            message = f"cannot write {args.out}: {exc.strerror or exc}"
            print(f"studio-cli: {message}", file=sys.stderr)
            if args.json:
                _emit_json({"status": "failed", "error": message})
            return EXIT_FAILED
        if args.out != "-":
            print(f"wrote {n} metric points of run #{run.id} to {args.out}", file=sys.stderr)
        if args.json:
            _emit_json({"status": "done", "run_id": run.id, "points": n, "out": args.out})
        return EXIT_OK
    if args.runs_cmd == "delete":
        reg.delete_run(run.id, delete_files=args.files)
        print(f"deleted run #{run.id}" + (" and its files" if args.files else ""), file=sys.stderr)
        if args.json:
            _emit_json({"status": "done", "run_id": run.id, "deleted_files": bool(args.files)})
        return EXIT_OK
    return EXIT_USAGE


def cmd_sem(args) -> int:
    from pathlib import Path

    from studio.engine import RunSpec
    from studio.sem import jobs as sem

    if args.sem_cmd == "train":
        overrides = {"iterations": args.iters} if args.iters else {"epochs": args.epochs}
        overrides.update(optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay, batch_size=args.batch,
                         seed=args.seed)
        cfg = sem.SemTrainConfig(data=None if args.sample else args.data, crop_bottom=args.crop_bottom,
                                 patch_mode=args.patches, depth=args.depth, fc40=not args.no_fc,
                                 augment=not args.no_augment, blur_noise=not args.no_blur_noise,
                                 init_checkpoint=args.init,
                                 fit=sem.paper_fit_config(**overrides))
        if args.share_threshold is not None:
            cfg.share_threshold = args.share_threshold
        if args.input_norm:
            cfg.input_norm = args.input_norm
        if args.shift is not None:
            cfg.shift = args.shift
        if args.average_from is not None:
            cfg.average_from = None if args.average_from == "off" else args.average_from
        if args.sample_images:
            cfg.sample_images = (args.sample_images[0], args.sample_images[1])
        if args.sample_size:
            cfg.sample_size = args.sample_size
        job, code = run_job(sem.train_sem, cfg, args, name="SEM: train CNN", workbench=sem.WORKBENCH,
                            run=RunSpec(sem.WORKBENCH, f"cnn{cfg.depth}{'-fc40' if cfg.fc40 else ''}", cfg.to_dict(),
                                        run_dir=args.out))
        r, reply = job.result, _reply(job)
        if r is not None:
            reply["metrics"] = r.metrics

        def show() -> None:
            for k, v in r.metrics.items():
                print(f"{k:>20}: {v:.4f}")
            _saved_in(job)

        return _finish(args, job, code, reply, show)

    if args.sem_cmd == "predict":
        csv_path = _out(args.csv)
        if csv_path and Path(csv_path).exists() and not args.overwrite:
            return _refuse(args, f"{csv_path}: exists already; choose another name or pass --overwrite")
        cfg = sem.SemPredictConfig(model=args.model, images=args.images, crop_bottom=args.crop_bottom,
                                   share_threshold=args.share_threshold)
        job, code = run_job(sem.predict_sem, cfg, args, name="SEM: predict", workbench=sem.WORKBENCH, kind="task")
        preds, reply = job.result, _reply(job)
        if preds is not None:
            if csv_path:
                try:
                    sem.predictions_csv(preds, csv_path)
                except OSError as exc:
                    return _refuse(args, f"cannot write {csv_path}: {exc.strerror or exc}")
                reply["csv"] = str(csv_path)
            reply.update(share_threshold=preds.share_threshold, predictions=[
                {"path": p.path, "verdict": p.verdict, "defect_share": p.defect_share,
                 "probabilities": p.probabilities, **({"error": p.error} if p.error else {})} for p in preds.images])
            code = EXIT_OK if all(not p.error for p in preds.images) else EXIT_USAGE

        def show() -> None:
            for r in reply["predictions"]:
                if "error" in r:
                    print(f"{r['path']}: ERROR {r['error']}")
                else:
                    probs = ", ".join(f"{k} {v:.3f}" for k, v in r["probabilities"].items())
                    print(f"{r['path']}: {r['verdict']} (defect share {r['defect_share']:.3f}; {probs})")

        return _finish(args, job, code, reply, show)
    return EXIT_USAGE


def _generated_ratio(args) -> dict:
    """``--max-generated-ratio`` as config keyword: absent -> the job's default (0 = no cap)."""
    return {} if args.max_generated_ratio is None else {"max_generated_ratio": args.max_generated_ratio}


def cmd_unmix(args) -> int:
    from pathlib import Path

    import numpy as np

    from studio.engine import RunSpec
    from studio.unmixing import jobs as um

    if args.unmix_cmd in um.METHODS:
        cfg = um.UnmixConfig(spectra=args.spectra, endmembers=getattr(args, "endmembers", None),
                             method=args.unmix_cmd, model=getattr(args, "model", None), cube=args.cube,
                             out=_out(args.out), overwrite=args.overwrite,
                             endmember_pixels=getattr(args, "pixel", None))
        job, code = run_job(um.unmix_job, cfg, args, name=f"Unmixing: {args.unmix_cmd.upper()}",
                            workbench=um.WORKBENCH, kind="task")
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update({k: r[k] for k in ("method", "materials", "n_spectra", "out", "delta_rmse",
                                            "reconstruction_rmse", "maps_shape") if k in r})
            reply["mean_abundances"] = dict(zip(r["materials"], np.mean(r["abundances"], axis=0).tolist()))

        def show() -> None:
            for k in ("n_spectra", "reconstruction_rmse", "delta_rmse", "out"):
                if k in reply:
                    print(f"{k:>20}: {reply[k]}")

        return _finish(args, job, code, reply, show)

    if args.unmix_cmd == "augment":
        from studio.unmixing.augmentation import MomentTrainConfig

        cfg = um.AugmentConfig(dataset=args.dataset, split=args.split, epochs_scale=args.epochs_scale,
                               mean_epochs=args.mean_epochs, cov_epochs=args.cov_epochs,
                               moments=MomentTrainConfig(lr=args.lr),
                               strategy=None if args.strategy == "none" else args.strategy, step=args.step,
                               n_per_vector=args.n_per_vector, out=_out(args.out),
                               spectra_per_mixture=args.spectra_per_mixture)
        job, code = run_job(um.train_augmenter_job, cfg, args, name="Unmixing: train augmenter",
                            workbench=um.WORKBENCH, run=RunSpec(um.WORKBENCH, "gp-augmenter", cfg.to_dict()))
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update({k: r[k] for k in ("dataset", "checkpoint", "generated", "new_vectors", "generated_spectra",
                                            "mean_epochs", "cov_epochs") if k in r})
            reply["final_loss"] = {"N_m": r["training"]["mean"]["final_epoch_loss"],
                                   "N_k": r["training"]["cov"]["final_epoch_loss"]}

        def show() -> None:
            for k, v in reply.items():
                print(f"{k:>18}: {v}")

        return _finish(args, job, code, reply, show)

    if args.unmix_cmd == "generate":
        cfg = um.GenerateConfig(augmenter=args.augmenter, step=None if args.abundances else args.step,
                                abundances=args.abundances, strategy=args.strategy, n_per_vector=args.n_per_vector,
                                seed=args.seed, out=_out(args.out), overwrite=args.overwrite)
        job, code = run_job(um.generate_job, cfg, args, name=f"Unmixing: generate ({cfg.strategy})",
                            workbench=um.WORKBENCH, kind="task")
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update({k: r[k] for k in ("vectors", "spectra", "out") if k in r})

        def show() -> None:
            print(f"{r['spectra']} spectra for {r['vectors']} abundance vectors"
                  + (f" -> {r['out']}" if r.get("out") else ""))

        return _finish(args, job, code, reply, show)

    if args.unmix_cmd == "train-cnn":
        cfg = um.CnnTrainConfig(dataset=args.dataset, split=args.split, spectra_per_mixture=args.spectra_per_mixture,
                                augmentation=args.augmentation, step=args.step, augmenter=args.augmenter,
                                n_per_vector=args.n_per_vector, epochs=args.epochs, epochs_scale=args.epochs_scale,
                                **_generated_ratio(args),
                                cnn=um.CnnFitSettings(batch_size=args.batch, seed=args.seed, **{
                                    k: v for k, v in (("lr", args.lr), ("normalisation", args.input_norm))
                                    if v is not None}))
        job, code = run_job(um.train_cnn_job, cfg, args, name=f"Unmixing: train 1D-CNN ({args.augmentation})",
                            workbench=um.WORKBENCH,
                            run=RunSpec(um.WORKBENCH, f"cnn1d-{args.augmentation}", cfg.to_dict(), run_dir=args.out))
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update(dataset=r["dataset"], metrics=r["metrics"],
                         checkpoint=job.run.checkpoint if job.run else None)

        def show() -> None:
            for k, v in r["metrics"].items():
                print(f"{k:>18}: {v}")
            _saved_in(job)

        return _finish(args, job, code, reply, show)

    if args.unmix_cmd == "evaluate":
        csv_path = _out(args.csv)
        if csv_path and Path(csv_path).exists() and not args.overwrite:
            return _refuse(args, f"{csv_path}: exists already; choose another name or pass --overwrite")
        cfg = um.EvaluateConfig(datasets=args.dataset, split=args.split, epochs_scale=args.epochs_scale,
                                steps=args.steps, n_per_vector=args.n_per_vector, elmm=not args.no_elmm,
                                **_generated_ratio(args),
                                spectra_per_mixture=args.spectra_per_mixture,
                                gamn_per_vector=args.gamn_per_vector)
        job, code = run_job(um.evaluate_job, cfg, args, name="Unmixing: evaluate", workbench=um.WORKBENCH,
                            run=RunSpec(um.WORKBENCH, "evaluate", cfg.to_dict(), run_dir=args.out))
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update({"epochs_scale": r["epochs_scale"], "checks": r["checks"],
                          "datasets": {n: {k: d[k] for k in ("rows", "delta_gamn", "epochs", "steps", "seconds")}
                                       for n, d in r["datasets"].items()}})
            if csv_path:
                um.results_csv(um.results_table(r), csv_path)
                reply["csv"] = str(csv_path)

        def show() -> None:
            print(r["table"])
            for name, checks in r["checks"].items():
                for k, v in checks.items():
                    print(f"{name}: {k}: {v}")

        return _finish(args, job, code, um._jsonable(reply), show)
    return EXIT_USAGE


# ------------------------------------------------------------------ batch
def cmd_batch(args) -> int:
    """Run the jobs of a TOML job file one after the other through the same handlers (docs/batch.md).

    Every job is checked (file, options) before the first one starts.  Exit code: 0 when all
    jobs are done, 130 as soon as one is cancelled (Ctrl+C), otherwise the code of the first
    job that failed (1, or 2 for bad input); without ``--continue-on-error`` the batch stops there.
    """
    import contextlib
    import io

    from studio.batchfile import JobFileError, read_job_file

    try:
        jobs = read_job_file(args.jobs)
    except JobFileError as exc:
        print(f"studio-cli: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    parsed = []
    for job in jobs:
        argv = job.argv + [flag for flag, on in (("--json", True), ("-q", args.quiet)) if on and flag not in job.argv]
        try:
            with contextlib.redirect_stderr(io.StringIO()) as err:
                parsed.append(parser.parse_args(argv))
        except SystemExit:
            problem = err.getvalue().strip().splitlines()[-1:] or ["bad arguments"]
            print(f"studio-cli: {args.jobs}: job {job.index} ({job.label}): {problem[0]}", file=sys.stderr)
            return EXIT_USAGE
    if args.dry_run:
        for job in jobs:
            print(f"[{job.index}/{len(jobs)}] studio-cli {' '.join(job.argv)}")
        return EXIT_OK
    results: list[dict[str, Any]] = []
    code = EXIT_OK
    for job, job_args in zip(jobs, parsed):
        if not args.json:
            print(f"[{job.index}/{len(jobs)}] {job.label}: studio-cli {' '.join(job.argv)}", flush=True)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                job_code = job_args.func(job_args)
            except KeyboardInterrupt:
                job_code = EXIT_CANCELLED
        lines = [line for line in out.getvalue().splitlines() if line.startswith("{")]
        try:
            reply = json.loads(lines[-1]) if lines else {}
        except ValueError:
            reply = {}
        row = {"index": job.index, "label": job.label, "argv": job.argv, "exit_code": job_code,
               **{k: reply[k] for k in ("status", "run_id", "seconds", "error", "metrics") if k in reply}}
        results.append(row)
        if not args.json:
            status = row.get("status", "done" if job_code == EXIT_OK else "failed")
            run = f", run #{row['run_id']}" if row.get("run_id") else ""
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in list((row.get("metrics") or {}).items())[:4]
                                if isinstance(v, (int, float)))
            print(f"    {status}{run}" + (f": {row['error']}" if row.get("error") else "")
                  + (f" · {metrics}" if metrics else ""), flush=True)
        if job_code != EXIT_OK and code == EXIT_OK:
            code = job_code
        if job_code == EXIT_CANCELLED or (job_code != EXIT_OK and not args.continue_on_error):
            break
    summary = {"status": {EXIT_OK: "done", EXIT_CANCELLED: "cancelled"}.get(code, "failed"), "jobs": results,
               "total": len(jobs), "ran": len(results),
               "failed": sum(1 for r in results if r["exit_code"] != EXIT_OK)}
    if args.json:
        _emit_json(summary)
    else:
        print(f"batch {summary['status']}: {summary['ran']} of {summary['total']} jobs run, "
              f"{summary['failed']} failed")
    return code


def add_batch_parser(sub) -> None:
    p = sub.add_parser("batch", help="run the jobs listed in a TOML file (docs/batch.md), each recorded as a run")
    p.add_argument("jobs", help="the job file, e.g. JOBS.toml")
    p.add_argument("--continue-on-error", action="store_true", help="run the remaining jobs after a failed one")
    p.add_argument("--dry-run", action="store_true", help="check the file and print the commands only")
    p.add_argument("--json", action="store_true", help="end with one JSON object on standard output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_batch)


def cmd_audio(args) -> int:
    from pathlib import Path

    from studio.engine import RunSpec
    from studio.audio import jobs as au

    if args.audio_cmd == "train":
        out_dir = Path(args.out)
        if (out_dir / "model.safetensors").exists() and not args.overwrite:
            return _refuse(args, f"{out_dir}: already holds a trained model; choose another --out or pass "
                                 "--overwrite")
        cfg = au.AudioTrainConfig(data=None if args.sample else args.data, sample_preset=args.sample_preset,
                                  model=args.model, epochs=args.epochs, batch=args.batch, lr=args.lr,
                                  classifier=args.classifier, init_checkpoint=args.init, seed=args.seed,
                                  width=args.width)
        job, code = run_job(au.train_audio, cfg, args, name=f"Audio: train {au.MODEL_LABELS[args.model]}",
                            workbench=au.WORKBENCH, run=RunSpec(au.WORKBENCH, args.model, cfg.to_dict(),
                                                                run_dir=args.out))
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update(metrics=r.metrics, checkpoint=r.checkpoint, classes=r.classes, problems=r.problems)

        def show() -> None:
            for k, v in r.metrics.items():
                print(f"{k:>26}: {v:.4f}")
            _saved_in(job)

        return _finish(args, job, code, reply, show)

    if args.audio_cmd == "evaluate":
        try:
            kind = au.checkpoint_kind(args.model)  # the run is named eval-<kind>, as the GUI names it
        except (ValueError, OSError) as exc:
            return _refuse(args, str(exc))
        cfg = au.AudioEvalConfig(model=args.model, data=args.data, seed=args.seed,
                                 noises=tuple(args.noise) if args.noise else au.NOISE_TYPES,
                                 snrs=tuple(int(s) if float(s).is_integer() else float(s) for s in args.snr)
                                 if args.snr else au.PAPER_SNRS)
        job, code = run_job(au.evaluate_audio, cfg, args, name="Audio: evaluate", workbench=au.WORKBENCH,
                            run=RunSpec(au.WORKBENCH, f"eval-{kind}",
                                        {**cfg.to_dict(),  # the label as the GUI writes it for a model file
                                         "label": f"{au.MODEL_LABELS[kind]} ({Path(args.model).name})"},
                                        run_dir=args.out))
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update({k: r[k] for k in ("model", "classes", "clean", "grid", "per_class", "confusion", "n_test",
                                            "problems")})

        def show() -> None:
            print(f"{r['model_label']}: clean dev {100 * r['clean']['dev']:.2f} %, "
                  f"test {100 * r['clean']['test']:.2f} %")
            print("SNR  " + "".join(f"{n:>10}" for n in r["grid"]))
            for snr in r["snrs"]:
                print(f"{snr:>3}  " + "".join(f"{100 * r['grid'][n][snr]:>10.2f}" for n in r["grid"]))

        return _finish(args, job, code, reply, show)

    if args.audio_cmd == "enhance":
        cfg = au.EnhanceConfig(models=args.model, file=args.file, segment=args.segment, noise=args.noise,
                               snr=args.snr, seed=args.seed, out=_out(args.out), overwrite=args.overwrite)
        job, code = run_job(au.enhance_clip, cfg, args, name="Audio: enhance one clip", workbench=au.WORKBENCH,
                            kind="task")
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update(r)

        def show() -> None:
            noise = "clean" if r["snr_db"] is None else f"{r['noise']} at {r['snr_db']:g} dB"
            print(f"{r['file']} [segment {r['segment']}], {noise}: noisy input → {_top3(r['noisy_probs'])}")
            for label, d in r["models"].items():
                print(f"  {label}: {_top3(d['probs'])}")
            for path in r["outputs"]:
                print(f"wrote {path}")

        return _finish(args, job, code, reply, show)

    if args.audio_cmd == "classify":
        cfg = au.ClassifyConfig(model=args.model, files=args.files)
        job, code = run_job(au.classify_files, cfg, args, name="Audio: classify", workbench=au.WORKBENCH,
                            kind="task")
        rows, reply = job.result, _reply(job)
        if rows is not None:
            reply["predictions"] = rows
            code = EXIT_OK if all("error" not in r for r in rows) else EXIT_USAGE

        def show() -> None:
            for r in rows:
                print(f"{r['file']}: ERROR {r['error']}" if "error" in r else
                      f"{r['file']} [{r['start_s']:.0f} s]: {r['label']} ({_top3(r['probs'])})")

        return _finish(args, job, code, reply, show)
    return EXIT_USAGE


def cmd_seg(args) -> int:
    from pathlib import Path

    from studio.engine import RunSpec
    from studio.segmentation import jobs as seg

    if args.seg_cmd in ("train", "repeat"):
        def floats(text):
            return [float(v) for v in text.split(",")] if text else None

        try:
            cfg = seg.SegTrainConfig(data=None if args.sample else args.data, sample_preset=args.sample_preset,
                                     variant=args.variant, alphas=floats(args.alphas), betas=floats(args.betas),
                                     bn_init=args.bn_init, preset=args.preset, iters=args.iters, batch=args.batch,
                                     lr=args.lr, base_width=args.base_width, val_every=args.val_every,
                                     init_checkpoint=args.init, seed=args.seed,
                                     extra_samples=[tuple(pair) for pair in args.extra or []])
        except ValueError as exc:
            return _refuse(args, f"--alphas/--betas: {exc}")
        for image, mask in cfg.extra_samples:
            for path in (image, mask):
                if not Path(path).is_file():
                    return _refuse(args, f"{path}: no such file (--extra IMAGE MASK)")

    if args.seg_cmd == "repeat":
        import dataclasses

        from studio.segmentation.metrics import box_plot_stats

        rcfg = seg.RepeatConfig(train=cfg, runs=args.runs)
        job, code = run_job(seg.repeat_runs, rcfg, args, name=f"Segmentation: repeat {args.variant} × {args.runs}",
                            workbench=seg.WORKBENCH,
                            run=RunSpec(seg.WORKBENCH, f"{args.variant}-repeat", dataclasses.asdict(rcfg),
                                        run_dir=args.out))
        rows, reply = job.result, _reply(job)
        if rows is not None:
            reply.update(runs=rows, box=box_plot_stats([r.get("miou", float("nan")) for r in rows]),
                         metrics=dict(job.run.final_metrics) if job.run else {})

        def show() -> None:
            for r in rows:
                print(f"run {r['run']:>2} (seed {r['seed']}): mIoU {r.get('miou', float('nan')):.4f}")
            b = reply["box"]
            print(f"{args.variant}: median mIoU {b['median']:.4f} (IQR {b['q1']:.4f}–{b['q3']:.4f}) over "
                  f"{len(rows)} runs")

        return _finish(args, job, code, reply, show)

    if args.seg_cmd == "train":
        job, code = run_job(seg.train_segmentation, cfg, args, name=f"Segmentation: train {args.variant}",
                            workbench=seg.WORKBENCH,
                            run=RunSpec(seg.WORKBENCH, args.variant, cfg.to_dict(), run_dir=args.out))
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update(metrics=r.metrics, variant=r.variant, params=r.params, gflops=r.gflops,
                         checkpoint=r.checkpoint, problems=r.problems)

        def show() -> None:
            for k, v in r.metrics.items():
                print(f"{k:>20}: {v:.4f}")
            print(f"{r.variant}: {r.params:,} parameters, {r.gflops:.2f} GFLOPs at 250x250")
            _saved_in(job)

        return _finish(args, job, code, reply, show)

    if args.seg_cmd == "variants":
        from studio.segmentation.models import default_weights

        rows = []
        for variant in args.variant or seg.VARIANTS:
            job, code = run_job(seg.complexity_job, variant, args, name=f"Segmentation: count {variant}",
                                workbench=seg.WORKBENCH, kind="task")
            if job.result is None:
                return _finish(args, job, code, _reply(job, variants=rows))
            alphas, betas = default_weights(variant)
            rows.append({"variant": variant, "alphas": alphas, "betas": betas, "params": job.result[0],
                         "gflops": job.result[1]})
            if not args.json:
                print(f"{variant:>10}: {job.result[0] / 1e6:6.2f} M parameters, {job.result[1]:6.2f} GFLOPs at "
                      f"{seg.TILE}x{seg.TILE} (α {'/'.join(f'{a:g}' for a in alphas)}, "
                      f"β {'/'.join(f'{b:g}' for b in betas)})")
        if args.json:
            _emit_json({"status": "done", "variants": rows})
        return EXIT_OK

    if args.seg_cmd == "predict":
        cfg = seg.SegPredictConfig(model=args.model, images=args.images, out_dir=_out(args.out), masks=None,
                                   tile=args.tile, overlap=args.overlap, batch=args.batch,
                                   threshold=args.threshold, overwrite=args.overwrite)
        job, code = run_job(seg.predict_segmentation, cfg, args, name="Segmentation: predict",
                            workbench=seg.WORKBENCH, kind="task")
        reply = _reply(job)
        if job.result is not None:
            rows = reply["predictions"] = []
            for p in job.result:
                row = {"image": p.image, "outputs": p.outputs}
                if p.error:
                    row["error"] = p.error
                else:
                    row.update({"building_fraction": float(p.mask.mean()) if p.mask.size else 0.0,
                                "height": int(p.mask.shape[0]), "width": int(p.mask.shape[1])})
                rows.append(row)
            code = EXIT_OK if all("error" not in r for r in rows) else EXIT_USAGE

        def show() -> None:
            for r in reply["predictions"]:
                print(f"{r['image']}: ERROR {r['error']}" if "error" in r else
                      f"{r['image']}: {r['building_fraction']:.1%} building -> {', '.join(r['outputs'])}")

        return _finish(args, job, code, reply, show)

    if args.seg_cmd == "evaluate":
        cfg = seg.SegEvalConfig(model=args.model, data=args.data, split=args.split, tile=args.tile,
                                overlap=args.overlap, batch=args.batch)
        job, code = run_job(seg.evaluate_segmentation, cfg, args, name="Segmentation: evaluate",
                            workbench=seg.WORKBENCH, kind="task")
        r, reply = job.result, _reply(job)
        if r is not None:
            reply.update(r)

        def show() -> None:
            for row in r["per_image"]:
                print(f"{row['name']:>24}: mIoU {row['miou']:.4f}  pixel acc {row['pixel_acc']:.4f}")
            print(f"{r['split']} ({r['images']} images): mIoU {r['miou']:.4f}, IoU building {r['iou_building']:.4f}, "
                  f"pixel acc {r['pixel_acc']:.4f}, mean acc {r['mean_acc']:.4f}")

        return _finish(args, job, code, reply, show)
    return EXIT_USAGE


# ----------------------------------------------------------------- parser
def add_seg_train_arguments(q: argparse.ArgumentParser, common, variants) -> None:
    """The options of ``seg train`` and ``seg repeat`` (a SegTrainConfig)."""
    common(q)
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="Massachusetts layout (train/ val/ test/ + *_labels/) or images/ + masks/")
    src.add_argument("--sample", action="store_true", help="the synthetic sample dataset")
    q.add_argument("--sample-preset", choices=("small", "paper", "tiny"), default="small",
                   help="sample size: small 24/4/6 of 500x500, paper 137/4/10 of 1500x1500")
    q.add_argument("--variant", choices=variants, default="baseline")
    q.add_argument("--alphas", help="alpha_1..alpha_4, comma separated (default: the variant's)")
    q.add_argument("--betas", help="beta_1..beta_4, comma separated (default: the variant's)")
    q.add_argument("--bn-init", choices=("normal", "constant"), default="normal",
                   help="batch-norm weight init: N(0,1) (Table I) or 1 (Table II)")
    q.add_argument("--preset", choices=("quick", "paper"), default="quick",
                   help="quick: CPU-sized (500 iters, half width, lr 1e-2); paper: 180K iters, lr 1e-3")
    q.add_argument("--iters", type=int, help="training iterations (default: the preset's)")
    q.add_argument("--batch", type=int, default=16)
    q.add_argument("--lr", type=float, help="base learning rate (default: the preset's)")
    q.add_argument("--base-width", type=int, help="channels of the first level (32 = Table I's network)")
    q.add_argument("--val-every", type=int, help="iterations between validations")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--init", help="fine-tune from this run folder or checkpoint")
    q.add_argument("--extra", nargs=2, action="append", metavar=("IMAGE", "MASK"),
                   help="a corrected mask (PNG) for an image, trained on with the dataset (as the GUI's Retrain "
                        "with corrections); repeatable")
    q.add_argument("--out", required=True, help="run folder for the checkpoint(s) and results")


def build_parser() -> argparse.ArgumentParser:
    from studio.engine.device import DEVICE_CHOICES
    from studio.engine.training import OPTIMIZERS, SCHEDULES

    parser = argparse.ArgumentParser(prog="studio-cli", description="Inspection Studio, headless.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument("--json", action="store_true", help="end with one JSON object on standard output")
        if device:
            p.add_argument("--device", default="auto",
                           help=f"device to use: {', '.join(DEVICE_CHOICES)} or e.g. cuda:1 (default auto)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of failed jobs")

    p = sub.add_parser("info", help="versions and the device that would be used")
    common(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("selfcheck", help="train the engine-check MLP on two spirals (a real, small job)")
    common(p)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=20)
    length.add_argument("--iters", type=int, default=None)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--schedule", choices=SCHEDULES, default="constant")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_selfcheck)

    p = sub.add_parser("sem", help="SEM Defects: train the paper-004 CNN, classify micrographs")
    ssub = p.add_subparsers(dest="sem_cmd", required=True)
    q = ssub.add_parser("train", help="train on a dataset folder / CSV or the sample dataset")
    common(q)
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder with one sub-folder per class, or a CSV of path,label")
    src.add_argument("--sample", action="store_true", help="the synthetic sample dataset (75 HNF / 85 NHNF)")
    length = q.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=4)
    length.add_argument("--iters", type=int, help="iterations instead of epochs (the paper trains 300)")
    q.add_argument("--patches", choices=("all", "representative"), default="all",
                   help="all 128x128 patches of each training image, or the paper's one per image")
    q.add_argument("--depth", type=int, choices=range(1, 6), default=5, help="conv blocks (Table 3: CNN_1..CNN_5)")
    q.add_argument("--no-fc", action="store_true", help="without the FC 40 layer (Table 3)")
    q.add_argument("--no-augment", action="store_true",
                   help="no random 90° rotations / mirroring of training patches (the paper has none)")
    q.add_argument("--no-blur-noise", action="store_true",
                   help="no random defocus blur (up to 1.5 px) and noise (up to 0.04 of full scale) on training "
                        "patches (the paper has none)")
    q.add_argument("--shift", type=int, default=None, metavar="PX",
                   help="with --patches representative: move each training patch by a random offset of up to "
                        "± PX pixels inside its image (default 32; 0 = off; the paper has none)")
    q.add_argument("--average-from", type=_fraction_or_off, default=None, metavar="F|off",
                   help="end with the mean weights of the iterations after this fraction of the run (stochastic "
                        "weight averaging; default 0.75; 'off' keeps the last iteration's, as the paper)")
    q.add_argument("--input-norm", choices=("dataset", "patch"), default=None,
                   help="input normalisation (the paper does not say): 'dataset' subtracts the training patches' "
                        "mean and divides by their std, 'patch' standardises each patch by its own "
                        "(default: patch)")
    q.add_argument("--optimizer", choices=OPTIMIZERS, default="momentum")
    q.add_argument("--lr", type=float, default=1e-3)
    q.add_argument("--weight-decay", type=float, default=1e-4)
    q.add_argument("--batch", type=int, default=32)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--share-threshold", type=float, default=None,
                   help="share of defective patches from which an image is defective, stored with the model "
                        "(default: calibrated on the training images after training)")
    q.add_argument("--crop-bottom", type=int, default=0, help="rows of info bar to cut from the bottom")
    q.add_argument("--init", help="fine-tune from this run folder or checkpoint")
    q.add_argument("--sample-images", type=int, nargs=2, metavar=("HNF", "NHNF"), help=argparse.SUPPRESS)
    q.add_argument("--sample-size", type=int, help=argparse.SUPPRESS)
    q.add_argument("--out", required=True, help="run folder for the checkpoint and results")
    q = ssub.add_parser("predict", help="verdict, defect share and class probabilities per image")
    common(q)
    q.add_argument("--model", required=True, help="a run folder (from sem train --out) or a checkpoint")
    q.add_argument("images", nargs="+")
    q.add_argument("--crop-bottom", type=int, default=None)
    q.add_argument("--share-threshold", type=float, default=None,
                   help="share of defective patches above which an image is defective (default: the model's)")
    q.add_argument("--csv", help="also write the per-image predictions as CSV (as the GUI's Export)")
    q.add_argument("--overwrite", action="store_true", help="replace --csv when it exists")
    p.set_defaults(func=cmd_sem)

    p = sub.add_parser("unmix", help="Spectral Unmixing: FCLS/ELMM, GP-inspired augmentation, the paper-000 table")
    usub = p.add_subparsers(dest="unmix_cmd", required=True)
    method_help = {"fcls": "FCLS (eqs. 1-4)", "elmm": "ELMM (eq. 5)", "ls": "unconstrained least-squares",
                   "nnls": "non-negative least-squares", "cnn": "a trained 1D-CNN's (section 4.3)"}
    for method in ("fcls", "elmm", "ls", "nnls", "cnn"):
        q = usub.add_parser(method, help=f"{method_help[method]} abundances of every spectrum (or pixel with --cube)")
        common(q)
        q.add_argument("--spectra", required=True, help="spectra file (.csv/.npy/.npz/.mat/.h5) or a cube with --cube")
        if method == "cnn":
            q.add_argument("--model", required=True, help="a run folder of unmix train-cnn or a cnn checkpoint")
        else:
            src = q.add_mutually_exclusive_group()
            src.add_argument("--endmembers", help="endmember file (L x P); default: the pure spectra of --spectra")
            src.add_argument("--pixel", type=int, nargs=2, action="append", metavar=("ROW", "COL"),
                             help="with --cube: a pixel whose spectrum is an endmember (repeat per material)")
        q.add_argument("--cube", action="store_true", help="--spectra is an image cube (ENVI/.npy/.mat/.h5)")
        q.add_argument("--out", help="write the abundances (.csv/.npy; maps .npy/.tif for a cube)")
        q.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    datasets = "quartz-3|quartz-4|colour-4 (sample) or a file of labelled spectra"
    q = usub.add_parser("augment", help="train N_m/N_k (section 3) and write generated spectra + checkpoints")
    common(q)
    q.add_argument("--dataset", required=True, help=datasets)
    q.add_argument("--strategy", choices=("normal", "mean", "none"), default="normal",
                   help="generate after training (none: train N_m, N_k only, as the GUI's Train generator)")
    q.add_argument("--step", type=float, default=0.1, help="grid step s of the new abundance vectors")
    q.add_argument("--n-per-vector", type=int, default=400, help="spectra generated per new vector")
    q.add_argument("--epochs-scale", type=float, default=1.0, help="multiplies the paper's 2000/3000/4000 epochs")
    q.add_argument("--mean-epochs", type=int, help="epochs of N_m (default: the paper's, times --epochs-scale)")
    q.add_argument("--cov-epochs", type=int, help="epochs of N_k (default: the paper's, times --epochs-scale)")
    q.add_argument("--lr", type=float, default=0.01, help="learning rate of N_m and N_k")
    q.add_argument("--out", required=True, help="folder for augmenter.* checkpoints and generated.npz")
    q = usub.add_parser("generate", help="spectra for new abundance vectors from a trained augmenter (section 3.3)")
    common(q)
    q.add_argument("--augmenter", required=True, help="run folder of unmix augment (augmenter.*) or its checkpoint")
    vectors = q.add_mutually_exclusive_group()
    vectors.add_argument("--step", type=float, default=0.1, help="every grid vector of step s not in training")
    vectors.add_argument("--abundances", help="or a .csv/.npy file of abundance vectors (K x P)")
    q.add_argument("--strategy", choices=("normal", "mean"), default="normal")
    q.add_argument("--n-per-vector", type=int, default=400, help="spectra generated per vector")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", required=True, help="file for the spectra: .npz, .csv (abundances, then bands) or .npy")
    q.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    q = usub.add_parser("train-cnn", help="the section-4.3 1D-CNN on the original or augmented training set")
    common(q)
    q.add_argument("--dataset", required=True, help=datasets)
    q.add_argument("--augmentation", choices=("none", "normal", "mean"), default="none",
                   help="train on the original set, or add spectra generated for the grid of step --step")
    q.add_argument("--augmenter", help="run folder of unmix augment (default: train one first, paper epochs × "
                                       "--epochs-scale)")
    q.add_argument("--step", type=float, default=0.1, help="grid step s of the augmentation")
    q.add_argument("--n-per-vector", type=int, default=400, help="generated spectra per new grid vector")
    q.add_argument("--epochs", type=int, help="CNN epochs (default: the paper's, times --epochs-scale)")
    q.add_argument("--epochs-scale", type=float, default=1.0, help="multiplies the paper's epochs")
    q.add_argument("--batch", type=int, default=128)
    q.add_argument("--lr", type=float, help="Adam learning rate (the paper does not say; default 3e-4)")
    q.add_argument("--input-norm", choices=("none", "band"),
                   help="CNN input: reflectance as it is (default), or standardised per band with the training "
                        "set's mean and std (the paper does not say)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", help="run folder for cnn.* (default: a new folder under the Studio home)")
    q = usub.add_parser("evaluate", help="Δ_RMSE and Δ_GAMN of FCLS, ELMM and the CNN with/without augmentation")
    common(q)
    q.add_argument("--dataset", required=True, nargs="+", help=datasets)
    q.add_argument("--epochs-scale", type=float, default=1.0, help="multiplies every epoch count of the paper")
    q.add_argument("--steps", type=float, nargs="+", help="grid steps s (default per dataset)")
    q.add_argument("--n-per-vector", type=int, default=400, help="generated spectra per new grid vector")
    q.add_argument("--gamn-per-vector", type=int, default=400, help="generated spectra per test vector for Δ_GAMN")
    q.add_argument("--no-elmm", action="store_true", help="skip the ELMM row")
    q.add_argument("--out", help="run folder for checkpoints and evaluation.json")
    q.add_argument("--csv", help="also write the results table (methods x Δ_RMSE/Δ_GAMN per dataset) as CSV")
    q.add_argument("--overwrite", action="store_true", help="replace --csv when it exists")
    for q in (usub.choices["evaluate"], usub.choices["train-cnn"]):
        q.add_argument("--max-generated-ratio", type=float, metavar="R",
                       help="at most R generated spectra per measured training spectrum, so on a fine grid fewer "
                            "than --n-per-vector are generated per new vector (0: no cap; default 5)")
    for q in (usub.choices["augment"], usub.choices["evaluate"], usub.choices["train-cnn"]):
        q.add_argument("--split", default="auto", help="split rule: auto or the sample whose rule applies")
        q.add_argument("--spectra-per-mixture", type=int, default=400, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_unmix)

    p = sub.add_parser("audio", help="Audio Enhancement: CNN-FC and SFE/DFE/DCL/DSL masks (paper 003)")
    asub = p.add_subparsers(dest="audio_cmd", required=True)
    q = asub.add_parser("train", help="train CNN-FC, or an enhancer through a frozen CNN-FC")
    common(q)
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="UrbanSound8K folder (audio/foldN + metadata/UrbanSound8K.csv) or a folder per class")
    src.add_argument("--sample", action="store_true", help="the synthetic sample dataset")
    q.add_argument("--model", choices=("cnn", "sfe", "dfe", "dcl", "dsl"), required=True)
    q.add_argument("--epochs", type=int, default=None, help="epochs per training stage (default: the paper's 100)")
    q.add_argument("--classifier", help="run folder of a trained CNN-FC (enhancers); default: train one first")
    q.add_argument("--init", help="fine-tune from this run folder or checkpoint (a DFE run starts DCL's stage 1)")
    q.add_argument("--batch", type=int, default=64)
    q.add_argument("--lr", type=float, default=1e-3)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0 = the paper's sizes)")
    q.add_argument("--sample-preset", choices=("small", "full", "tiny"), default="small",
                   help="sample dataset size: small (20 clips per class) or full (100)")
    q.add_argument("--out", required=True, help="run folder for the checkpoint and results")
    q.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    q = asub.add_parser("evaluate", help="accuracy on the clean dev/test folds and the noise × SNR grid")
    common(q)
    q.add_argument("--model", required=True, help="a run folder (from audio train --out) or a checkpoint")
    q.add_argument("--noise", nargs="+", help="noise kinds (white pink brown babble factory) or noise files")
    q.add_argument("--snr", nargs="+", type=float, help="SNRs in dB (default 20 15 10 5 0)")
    q.add_argument("--data", help="dataset folder (default: the one the model was trained on)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", help="run folder for evaluation.json and grid.csv")
    q = asub.add_parser("enhance", help="Fig. 3 for one recording: mel features, masks, enhanced features and "
                                        "class probabilities at a noise and SNR (.npy with --out)")
    common(q)
    q.add_argument("--model", required=True, action="append",
                   help="a run folder or checkpoint (CNN-FC or an enhancer); repeat to compare models")
    q.add_argument("file", help="a recording (WAV, FLAC, OGG)")
    q.add_argument("--segment", type=int, default=0, help="which 4 s window of the file (0 = the first)")
    q.add_argument("--noise", default="pink", help="white, pink, brown, babble, factory, a noise file, or none")
    q.add_argument("--snr", type=float, default=5.0, help="SNR in dB")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", help="folder for clean.npy, noisy.npy and <model>-mask.npy / <model>-enhanced.npy")
    q.add_argument("--overwrite", action="store_true", help="replace files in --out")
    q = asub.add_parser("classify", help="class and probabilities of every 4 s window of each file")
    common(q)
    q.add_argument("--model", required=True, help="a run folder or a checkpoint")
    q.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_audio)

    from studio.segmentation.models import VARIANTS as SEG_VARIANTS

    p = sub.add_parser("seg", help="Building Segmentation: residual U-Net with the weight mechanism (paper 002)")
    gsub = p.add_subparsers(dest="seg_cmd", required=True)
    for action in ("train", "repeat"):
        q = gsub.add_parser(action, help="train a variant on a dataset folder or the sample dataset" if action ==
                            "train" else "train a variant --runs times with seeds seed, seed+1, … (the box plot, "
                                         "Figs. 4, 6, 9)")
        add_seg_train_arguments(q, common, SEG_VARIANTS)
    q = gsub.choices["repeat"]
    q.add_argument("--runs", type=int, default=10, help="number of trainings (the paper repeats 10)")
    q = gsub.add_parser("variants", help="parameters and GFLOPs of each variant's Table I network (the "
                                         "comparison table's last columns)")
    common(q)
    q.add_argument("--variant", choices=SEG_VARIANTS, action="append", help="only this variant (repeatable)")
    q = gsub.add_parser("predict", help="building masks of images (PNG, and GeoTIFF for GeoTIFF inputs)")
    common(q)
    q.add_argument("--model", required=True, help="a run folder (from seg train --out) or a checkpoint")
    q.add_argument("images", nargs="+")
    q.add_argument("--out", required=True, help="folder for <name>_mask.png / <name>_mask.tif")
    q.add_argument("--overwrite", action="store_true", help="replace mask files that exist already")
    q.add_argument("--threshold", type=float, default=0.5, help="building probability threshold")
    q = gsub.add_parser("evaluate", help="mIoU, IoU per class, pixel and mean accuracy on a dataset split")
    common(q)
    q.add_argument("--model", required=True, help="a run folder or a checkpoint")
    q.add_argument("--data", help="dataset folder (default: the one the model was trained on)")
    q.add_argument("--split", choices=("train", "val", "test"), default="test")
    for q in (gsub.choices["predict"], gsub.choices["evaluate"]):
        q.add_argument("--tile", type=int, default=250)
        q.add_argument("--overlap", type=int, default=32)
        q.add_argument("--batch", type=int, default=8, help="tiles per batch")
    p.set_defaults(func=cmd_seg)

    p = sub.add_parser("runs", help="the run history")
    rsub = p.add_subparsers(dest="runs_cmd", required=True)
    q = rsub.add_parser("list")
    common(q, device=False)
    q.add_argument("--workbench")
    q.add_argument("--limit", type=int, default=50)
    for name in ("show", "export", "delete"):
        q = rsub.add_parser(name)
        common(q, device=False)
        q.add_argument("run_id", type=int)
        if name == "export":
            q.add_argument("--out", required=True, help="CSV file, or - for standard output")
        if name == "delete":
            q.add_argument("--files", action="store_true", help="also delete the run's folder (checkpoints)")
    p.set_defaults(func=cmd_runs)
    add_batch_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad arguments (argparse printed the usage) or --help / --version
        if exc.code not in (0, None) and "--json" in argv:
            _emit_json({"status": "failed", "error": "bad arguments (see the usage on standard error)"})
        raise
    from studio.engine.device import DeviceUnavailable

    from studio.engine import distributed

    try:
        return args.func(args)
    except DeviceUnavailable as exc:
        return _refuse(args, str(exc))
    except KeyboardInterrupt:  # a second Ctrl+C while the job was stopping, or one outside a job
        print("cancelled", file=sys.stderr)
        if getattr(args, "json", False):
            _emit_json({"status": "cancelled", "error": "cancelled by the user"})
        return EXIT_CANCELLED
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
