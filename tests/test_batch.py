"""studio-cli batch JOBS.toml: jobs run through the CLI handlers and land in the run registry."""
import json

import pytest

from studio.batchfile import JobFileError, expand_jobs
from studio.cli import main
from studio.engine import RunRegistry

TWO_JOBS = """
[defaults]
device = "cpu"

[[job]]
workbench = "selfcheck"
name = "engine check"
iters = 3

[[job]]
workbench = "sem"
action = "train"
sample = true
sample_images = [4, 4]
sample_size = 256
depth = 1
iters = 2
batch = 8
out = "{out}/sem-run"
"""


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_two_jobs_run_and_are_recorded(tmp_path, studio_home, capsys):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(TWO_JOBS.replace("{out}", tmp_path.as_posix()))
    assert main(["batch", str(jobs), "--json", "-q"]) == 0
    summary = last_json(capsys)
    assert summary["status"] == "done" and summary["ran"] == 2 and summary["failed"] == 0
    ids = [j["run_id"] for j in summary["jobs"]]
    runs = {r.id: r for r in RunRegistry(studio_home).list_runs()}
    assert sorted(runs) == sorted(ids)
    assert [runs[i].workbench for i in ids] == ["engine", "sem"]
    assert all(runs[i].status == "completed" and runs[i].checkpoint for i in ids)
    assert (tmp_path / "sem-run" / "model.safetensors").is_file()
    assert summary["jobs"][1]["metrics"]["steps"] == 2


def test_a_failed_job_stops_the_batch_unless_continue_on_error(tmp_path, capsys):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(f"""
[[job]]
workbench = "sem"
action = "train"
data = "{(tmp_path / 'missing').as_posix()}"
out = "{(tmp_path / 'x').as_posix()}"
device = "cpu"

[[job]]
workbench = "selfcheck"
iters = 2
device = "cpu"
""")
    assert main(["batch", str(jobs), "--json", "-q"]) == 2  # bad input: the first failure's code
    summary = last_json(capsys)
    assert summary["ran"] == 1 and summary["jobs"][0]["status"] == "failed" and "missing" in summary["jobs"][0]["error"]
    assert main(["batch", str(jobs), "--json", "-q", "--continue-on-error"]) == 2
    summary = last_json(capsys)
    assert summary["ran"] == 2 and summary["failed"] == 1 and summary["jobs"][1]["status"] == "done"


def test_bad_job_files_exit_2_naming_the_file_before_anything_runs(tmp_path, studio_home, capsys):
    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_text("[[job]\nworkbench = 'sem'")
    assert main(["batch", str(bad_toml)]) == 2
    assert "broken.toml: not valid TOML" in capsys.readouterr().err
    bad_option = tmp_path / "options.toml"
    bad_option.write_text("[[job]]\nworkbench='selfcheck'\niters=2\n\n[[job]]\nworkbench='selfcheck'\nwarp=9\n")
    assert main(["batch", str(bad_option)]) == 2
    err = capsys.readouterr().err
    assert "options.toml: job 2 (selfcheck)" in err and "--warp" in err
    assert RunRegistry(studio_home).list_runs() == []  # the good first job did not run either
    assert main(["batch", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: no such job file" in capsys.readouterr().err


def test_repeat_expands_with_the_repeat_index(capsys, tmp_path):
    jobs = expand_jobs({"job": [{"workbench": "sem", "action": "train", "repeat": 3, "sample": True,
                                 "no_augment": False, "seed": "{repeat}", "out": "runs/cnn5-{repeat}",
                                 "name": "CNN_5"}]})
    assert [j.label for j in jobs] == ["CNN_5 #0", "CNN_5 #1", "CNN_5 #2"]
    assert jobs[2].argv == ["sem", "train", "--sample", "--seed", "2", "--out", "runs/cnn5-2"]
    repeated = expand_jobs({"job": [{"workbench": "seg", "action": "train", "extra": [["a.png", "a_mask.png"],
                                                                                      ["b.png", "b_mask.png"]]}]})
    assert repeated[0].argv == ["seg", "train", "--extra", "a.png", "a_mask.png", "--extra", "b.png", "b_mask.png"]
    for bad in ({"job": []}, {"job": [{"action": "train"}]}, {"job": [{"workbench": "x", "repeat": 0}]},
                {"job": [{"workbench": "x", "opt": {"a": 1}}]}, {"jobs": []},
                {"job": [{"workbench": "x", "opt": [[]]}]}, {"job": [{"workbench": "x", "opt": [["a"], [[1]]]}]}):
        with pytest.raises(JobFileError):
            expand_jobs(bad)
    f = tmp_path / "j.toml"
    f.write_text('[[job]]\nworkbench="selfcheck"\nrepeat=2\nseed="{repeat}"\n')
    assert main(["batch", str(f), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == ["[1/2] studio-cli selfcheck --seed 0",
                                                    "[2/2] studio-cli selfcheck --seed 1"]


def test_the_documented_example_file_is_valid(capsys):
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "sem_depths.toml"
    assert main(["batch", str(example), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 30 and lines[-1].endswith("--seed 9 --depth 5 --out runs/p004/cnn5-9")
