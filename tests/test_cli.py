import json
import subprocess
import sys

import pytest

from studio.cli import main


def test_info_prints_versions_and_device(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("studio", "torch", "torchvision", "torchaudio", "PySide6", "device"):
        assert info[key] and info[key] != "not installed", key
    assert info["torch"].startswith("2.11") and info["torchvision"].startswith("0.26")
    assert info["device"] in ("cpu", "mps") or info["device"].startswith("cuda")


def test_selfcheck_trains_and_records_a_run(capsys):
    assert main(["selfcheck", "--epochs", "4", "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "done" and out["metrics"]["val/accuracy"] > 0.6
    assert main(["runs", "list", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["runs"]
    assert runs[0]["id"] == out["run_id"] and runs[0]["status"] == "completed"


def test_runs_export_csv(tmp_path, capsys):
    main(["selfcheck", "--iters", "5", "-q"])
    capsys.readouterr()
    target = tmp_path / "m.csv"
    assert main(["runs", "export", "1", "--out", str(target)]) == 0
    assert target.read_text().startswith("metric,step,epoch,wall_s,value")
    assert main(["runs", "show", "99"]) == 2


def test_bad_device_exits_2_with_a_message(capsys):
    assert main(["info", "--device", "tpu"]) == 2
    assert "unknown device" in capsys.readouterr().err
    assert main(["info", "--device", "tpu", "--json"]) == 2  # --json: the last line is still one JSON object
    assert "unknown device" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    with pytest.raises(SystemExit) as exit_info:
        main(["sem", "train", "--sample", "--bogus", "--json"])
    assert exit_info.value.code == 2 and json.loads(capsys.readouterr().out.strip())["status"] == "failed"


def test_runs_export_and_delete_answer_json(tmp_path, capsys):
    main(["selfcheck", "--iters", "3", "-q"])
    capsys.readouterr()
    assert main(["runs", "export", "1", "--out", str(tmp_path / "m.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["points"] > 0
    assert main(["runs", "delete", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"status": "done", "run_id": 1,
                                                                              "deleted_files": False}
    assert main(["runs", "show", "1", "--json"]) == 2
    assert "1" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "studio.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "studio" in out.stdout


def test_ctrl_c_cancels_the_job_keeps_its_checkpoint_and_exits_130(tmp_path):
    """SIGINT (Ctrl+C) while a training runs: the job stops cleanly, the run is 'cancelled', the checkpoint stays."""
    import os
    import signal
    import time
    from pathlib import Path

    from studio.engine import RunRegistry

    home = tmp_path / "home"
    env = {**os.environ, "STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "selfcheck", "--epochs", "100000", "--device", "cpu",
                             "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        checkpoint = home / "runs" / "00001" / "model.safetensors"
        deadline = time.time() + 60
        while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert checkpoint.exists(), proc.stderr.read() if proc.poll() is not None else "no checkpoint in 60 s"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    reply = json.loads(out.strip().splitlines()[-1])
    assert reply["status"] == "cancelled" and reply["run_id"] == 1
    run = RunRegistry(home).get(1)
    assert run.status == "cancelled" and run.checkpoint and Path(run.checkpoint).is_file()


def test_ranks_above_0_of_a_torchrun_launch_write_nothing(tmp_path, studio_home, monkeypatch, capsys):
    """Under torchrun only rank 0 writes: here this process plays rank 1 of 2 (no process group is formed)."""
    import numpy as np

    from studio.engine import distributed
    from studio.segmentation.synthetic import write_dataset
    from studio.unmixing.io import save_spectra

    data = write_dataset(tmp_path / "seg", preset="tiny", seed=1)
    rng = np.random.default_rng(0)
    A = rng.dirichlet(np.ones(3), size=8)
    E = rng.uniform(0.1, 0.9, (12, 3))
    save_spectra(tmp_path / "spectra.csv", A @ E.T, np.linspace(450, 810, 12), abundances=A, materials=["a", "b", "c"])
    np.save(tmp_path / "endmembers.npy", E)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(distributed, "init_from_env", lambda device="cpu": False)
    assert not distributed.is_main_process()
    out = tmp_path / "outputs"
    commands = [
        ["unmix", "fcls", "--spectra", str(tmp_path / "spectra.csv"), "--endmembers", str(tmp_path / "endmembers.npy"),
         "--out", str(out / "a.csv")],
        ["unmix", "augment", "--dataset", "quartz-3", "--strategy", "mean", "--n-per-vector", "1", "--mean-epochs", "1",
         "--cov-epochs", "1", "--spectra-per-mixture", "4", "--out", str(out / "aug")],
        ["seg", "train", "--data", str(data), "--iters", "1", "--batch", "2", "--base-width", "4", "--out",
         str(out / "seg")],
        ["seg", "predict", "--model", str(tmp_path / "none"), str(data / "test" / "scene_0005.png"), "--out",
         str(out / "masks")],
    ]
    codes = [main([*c, "--device", "cpu", "--json", "-q"]) for c in commands]
    replies = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert codes == [0, 0, 0, 2], replies  # the jobs ran (the last one: no model, bad input)
    assert all(r.get("run_id") is None for r in replies)  # no registry rows
    assert not out.exists()  # no --out file or folder
    assert list(studio_home.iterdir()) == []  # no registry, no default model folder under the Studio home
