"""``studio-cli unmix``: every unmixing action on tiny files and datasets; bad input exits 2 naming the file."""
import csv
import json

import numpy as np
import pytest

from studio.cli import main as cli
from studio.engine import RunRegistry
from studio.unmixing.io import load_spectra, save_spectra
from studio.unmixing.synthetic import make_sample


def last_json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


@pytest.fixture
def tiny_files(tmp_path):
    rng = np.random.default_rng(0)
    L, P = 12, 3
    wl = np.linspace(450, 810, L)
    E = rng.uniform(0.1, 0.9, (L, P))
    A = rng.dirichlet(np.ones(P), size=20)
    Y = A @ E.T
    save_spectra(tmp_path / "spectra.csv", Y, wl, abundances=A, materials=["a", "b", "c"])
    np.save(tmp_path / "endmembers.npy", E)
    return tmp_path, A


def test_unmix_fcls_writes_abundances_and_json(tiny_files, capsys):
    folder, A = tiny_files
    code = cli(["unmix", "fcls", "--spectra", str(folder / "spectra.csv"), "--endmembers",
                str(folder / "endmembers.npy"), "--out", str(folder / "abund.npy"), "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 0, result
    assert result["n_spectra"] == 20 and result["delta_rmse"] < 1e-4  # noise-free linear mixtures
    est = np.load(folder / "abund.npy")
    assert np.allclose(est, A, atol=1e-4)
    # the output exists now: refused (exit 2, file untouched) unless --overwrite
    (folder / "abund.npy").write_bytes(b"the user's own file")
    before = (folder / "abund.npy").read_bytes()
    args = ["unmix", "elmm", "--spectra", str(folder / "spectra.csv"), "--endmembers",
            str(folder / "endmembers.npy"), "--out", str(folder / "abund.npy"), "--json", "-q", "--device", "cpu"]
    assert cli(args) == 2
    assert "exists already" in last_json(capsys)["error"]
    assert (folder / "abund.npy").read_bytes() == before
    assert cli(args + ["--overwrite"]) == 0
    assert np.allclose(np.load(folder / "abund.npy"), A, atol=1e-3)


def test_unmix_ls_and_nnls(tiny_files, capsys):
    folder, A = tiny_files
    for method in ("ls", "nnls"):
        out = folder / f"{method}.csv"
        assert cli(["unmix", method, "--spectra", str(folder / "spectra.csv"), "--endmembers",
                    str(folder / "endmembers.npy"), "--out", str(out), "--json", "-q", "--device", "cpu"]) == 0
        result = last_json(capsys)
        assert result["n_spectra"] == 20 and result["delta_rmse"] < 1e-4, method  # exact linear mixtures
        assert np.allclose(np.loadtxt(out, delimiter=",", skiprows=1), A, atol=1e-4)


def test_unmix_a_cube_with_picked_pixels_as_endmembers(tiny_files, capsys):
    folder, _ = tiny_files
    rng = np.random.default_rng(1)
    E = np.load(folder / "endmembers.npy")  # (12 bands, 3 materials)
    A = rng.dirichlet(np.ones(3), size=(16, 20))  # a 16x20 cube ...
    A[0, :3] = np.eye(3)  # ... whose first three pixels are pure
    np.save(folder / "cube.npy", A @ E.T)
    code = cli(["unmix", "fcls", "--spectra", str(folder / "cube.npy"), "--cube", "--pixel", "0", "0", "--pixel", "0",
                "1", "--pixel", "0", "2", "--out", str(folder / "maps.npy"), "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 0, result
    assert result["maps_shape"] == [16, 20, 3]
    assert result["materials"] == ["pixel (0, 0)", "pixel (0, 1)", "pixel (0, 2)"]
    assert np.allclose(np.load(folder / "maps.npy"), A, atol=1e-4)
    assert cli(["unmix", "fcls", "--spectra", str(folder / "cube.npy"), "--cube", "--pixel", "99", "0", "-q"]) == 2
    assert "outside the 16×20 cube" in capsys.readouterr().err


def test_unmix_fcls_bad_endmembers_exits_2_naming_the_file(tiny_files, capsys):
    folder, _ = tiny_files
    np.save(folder / "short.npy", np.ones((5, 3)))
    code = cli(["unmix", "fcls", "--spectra", str(folder / "spectra.csv"), "--endmembers", str(folder / "short.npy"),
                "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 2 and "short.npy" in result["error"]


def test_unmix_evaluate_json(capsys, tmp_path):
    table = tmp_path / "table.csv"
    args = ["unmix", "evaluate", "--dataset", "quartz-4", "--epochs-scale", "0.003", "--steps", "0.1",
            "--n-per-vector", "2", "--gamn-per-vector", "4", "--spectra-per-mixture", "6", "--no-elmm",
            "--out", str(tmp_path / "run"), "--csv", str(table), "--json", "-q", "--device", "cpu"]
    code = cli(args)
    result = last_json(capsys)
    assert code == 0, result
    rows = result["datasets"]["quartz-4"]["rows"]
    assert [r["method"] for r in rows] == ["FCLS", "CNN original", "CNN + normal (s=0.1)", "CNN + mean only (s=0.1)"]
    assert all(np.isfinite(r["delta_rmse"]) for r in rows)
    assert result["epochs_scale"] == 0.003 and "checks" in result
    # the results table as the GUI exports it
    lines = list(csv.reader(table.open(encoding="utf-8")))
    assert lines[0] == ["Method", "quartz-4 Δ_RMSE", "quartz-4 Δ_GAMN"]
    assert [line[0] for line in lines[1:]] == [r["method"] for r in rows]
    assert [float(line[1]) for line in lines[1:]] == pytest.approx([r["delta_rmse"] for r in rows])
    assert lines[1][2] == ""  # FCLS generates nothing
    assert cli(args) == 2 and "table.csv: exists already" in last_json(capsys)["error"]  # not overwritten


def test_unmix_evaluate_missing_file_exits_2(capsys, tmp_path):
    code = cli(["unmix", "evaluate", "--dataset", str(tmp_path / "nope.mat"), "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 2 and "nope.mat" in result["error"]


def test_unmix_augment_writes_checkpoint_and_generated_spectra(capsys, tmp_path):
    code = cli(["unmix", "augment", "--dataset", "quartz-4", "--strategy", "mean", "--step", "0.1",
                "--n-per-vector", "1", "--epochs-scale", "0.003", "--spectra-per-mixture", "6",
                "--out", str(tmp_path / "aug"), "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 0, result
    assert result["new_vectors"] == 270 and result["generated_spectra"] == 270
    assert (tmp_path / "aug" / "augmenter.safetensors").exists() and (tmp_path / "aug" / "augmenter.json").exists()
    with np.load(tmp_path / "aug" / "generated.npz") as z:
        assert z["spectra"].shape == (270, 91)


def test_unmix_generate_train_cnn_and_unmix_with_the_cnn(capsys, tmp_path):
    """The GUI's generator -> Generate -> Train CNN (augmented) -> unmix with the CNN, headless."""
    assert cli(["unmix", "augment", "--dataset", "quartz-4", "--strategy", "none", "--mean-epochs", "2",
                "--cov-epochs", "2", "--lr", "0.02", "--spectra-per-mixture", "6", "--out", str(tmp_path / "aug"),
                "--json", "-q", "--device", "cpu"]) == 0
    aug = last_json(capsys)
    assert aug["mean_epochs"] == 2 and aug["cov_epochs"] == 2 and "generated" not in aug  # train only
    assert RunRegistry().get(aug["run_id"]).config["moments"]["lr"] == 0.02

    generated = tmp_path / "generated.csv"
    args = ["unmix", "generate", "--augmenter", str(tmp_path / "aug"), "--step", "0.1", "--strategy", "normal",
            "--n-per-vector", "2", "--out", str(generated), "--json", "-q", "--device", "cpu"]
    assert cli(args) == 0
    gen = last_json(capsys)
    assert gen["vectors"] == 270 and gen["spectra"] == 540 and gen["out"] == str(generated)
    ds = load_spectra(generated)
    assert ds.spectra.shape == (540, 91) and np.allclose(ds.abundances.sum(1), 1)
    assert cli(args) == 2 and "exists already" in last_json(capsys)["error"]
    vectors = tmp_path / "vectors.npy"
    np.save(vectors, np.array([[0.25, 0.25, 0.25, 0.25]]))
    assert cli(["unmix", "generate", "--augmenter", str(tmp_path / "aug"), "--abundances", str(vectors),
                "--n-per-vector", "3", "--out", str(tmp_path / "g.npz"), "--json", "-q"]) == 0
    assert last_json(capsys)["spectra"] == 3

    assert cli(["unmix", "train-cnn", "--dataset", "quartz-4", "--augmentation", "normal", "--augmenter",
                str(tmp_path / "aug"), "--step", "0.1", "--n-per-vector", "3", "--max-generated-ratio", "0.5",
                "--epochs", "1",
                "--spectra-per-mixture", "6", "--out", str(tmp_path / "cnn"), "--json", "-q", "--device", "cpu",
                "--input-norm", "band", "--lr", "0.001"]) == 0
    cnn = last_json(capsys)
    assert cnn["metrics"]["new_vectors"] == 270 and np.isfinite(cnn["metrics"]["test/delta_rmse"])
    # 0.5 × 96 measured spectra < 270 new vectors: capped from 3 to 1 generated spectrum per vector
    assert cnn["metrics"]["generated_per_vector"] == 1 and cnn["metrics"]["train_spectra"] == 16 * 6 + 270
    run = RunRegistry().get(cnn["run_id"])
    assert run.model == "cnn1d-normal" and run.status == "completed" and run.checkpoint == cnn["checkpoint"]
    assert run.config["cnn"]["normalisation"] == "band" and run.config["cnn"]["lr"] == 0.001  # the options reach it
    assert (tmp_path / "cnn" / "cnn.safetensors").is_file()

    code = cli(["unmix", "cnn", "--model", str(tmp_path / "cnn"), "--spectra", str(generated),
                "--out", str(tmp_path / "cnn-abundances.npy"), "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 0, result
    assert result["method"] == "cnn" and result["n_spectra"] == 540 and np.isfinite(result["delta_rmse"])
    est = np.load(tmp_path / "cnn-abundances.npy")
    assert est.shape == (540, 4) and np.allclose(est.sum(1), 1, atol=1e-4)  # softmax output
    assert cli(["unmix", "cnn", "--model", str(tmp_path / "aug" / "augmenter"), "--spectra", str(generated),
                "-q"]) == 2
    assert "not an unmixing CNN" in capsys.readouterr().err
