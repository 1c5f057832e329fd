import json
import subprocess
import sys

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


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "studio.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "studio" in out.stdout
