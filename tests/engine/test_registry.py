import os
import sqlite3
import subprocess
import sys

import pytest

from studio.engine.registry import RunRegistry


def test_runs_and_metrics_round_trip(studio_home):
    reg = RunRegistry()
    run = reg.create_run("sem", "cnn", {"lr": 0.001}, device="cpu")
    assert run.status == "queued" and run.config == {"lr": 0.001}
    reg.mark_started(run.id, "cpu")
    reg.add_metrics(run.id, [("train/loss", s, s / 10, s * 0.1, 1.0 / (s + 1)) for s in range(5)])
    reg.mark_finished(run.id, "completed", final_metrics={"acc": 0.9})
    again = RunRegistry()
    got = again.get(run.id)
    assert got.status == "completed" and got.final_metrics == {"acc": 0.9}
    series = again.metric_series(run.id, "train/loss")
    assert series["step"] == [0, 1, 2, 3, 4]
    assert series["value"][4] == pytest.approx(0.2)
    assert again.metric_names(run.id) == ["train/loss"]
    assert (studio_home / "runs.sqlite").exists()
    mode = sqlite3.connect(studio_home / "runs.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_export_csv(tmp_path):
    reg = RunRegistry()
    run = reg.create_run("engine", "mlp")
    reg.add_metrics(run.id, [("val/acc", 1, 1.0, 2.0, 0.5), ("train/loss", 1, 1.0, 2.0, 0.7)])
    out = tmp_path / "m.csv"
    assert reg.export_metrics_csv(run.id, out) == 2
    lines = out.read_text().splitlines()
    assert lines[0] == "metric,step,epoch,wall_s,value"
    assert lines[1].startswith("train/loss,1,1.0,")


def test_run_of_a_killed_process_is_marked_interrupted(studio_home):
    # A real separate process creates a running run and dies without finishing it.
    code = (
        "from studio.engine.registry import RunRegistry\n"
        "r = RunRegistry(); run = r.create_run('sem', 'cnn'); r.mark_started(run.id, 'cpu'); print(run.id)\n"
        "import os; os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "STUDIO_HOME": str(studio_home)})
    run_id = int(proc.stdout.strip())
    reg = RunRegistry()
    assert reg.get(run_id).status == "interrupted"
    assert run_id in reg.interrupted_ids


def test_run_of_a_live_process_is_left_alone():
    reg = RunRegistry()
    run = reg.create_run("sem", "cnn")
    reg.mark_started(run.id, "cpu")  # owned by this (live) process
    assert RunRegistry().get(run.id).status == "running"


def test_corrupt_database_is_moved_aside_and_kept(studio_home):
    db = studio_home / "runs.sqlite"
    garbage = b"this is not a database" * 200
    db.write_bytes(garbage)
    reg = RunRegistry()
    assert "could not be read" in reg.recovery_message
    kept = list(studio_home.glob("runs.corrupt-*.sqlite"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage
    run = reg.create_run("sem", "cnn")
    assert reg.get(run.id).workbench == "sem"


def test_delete_run_keeps_files_unless_asked():
    reg = RunRegistry()
    a, b = reg.create_run("x", "m"), reg.create_run("x", "m")
    a.checkpoint_path().parent.mkdir(parents=True, exist_ok=True)
    (a.dir / "note.txt").write_text("keep")
    reg.delete_run(a.id)
    assert (a.dir / "note.txt").exists()
    reg.delete_run(b.id, delete_files=True)
    with pytest.raises(KeyError):
        reg.get(a.id)
    assert [r.id for r in reg.list_runs()] == []
