"""``studio-cli unmix``: fcls on tiny files, evaluate --json, bad input exits 2 naming the file."""
import json

import numpy as np
import pytest

from studio.cli import main as cli
from studio.unmixing.io import save_spectra
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


def test_unmix_fcls_bad_endmembers_exits_2_naming_the_file(tiny_files, capsys):
    folder, _ = tiny_files
    np.save(folder / "short.npy", np.ones((5, 3)))
    code = cli(["unmix", "fcls", "--spectra", str(folder / "spectra.csv"), "--endmembers", str(folder / "short.npy"),
                "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 2 and "short.npy" in result["error"]


def test_unmix_evaluate_json(capsys, tmp_path):
    code = cli(["unmix", "evaluate", "--dataset", "quartz-4", "--epochs-scale", "0.003", "--steps", "0.1",
                "--n-per-vector", "2", "--gamn-per-vector", "4", "--spectra-per-mixture", "6", "--no-elmm",
                "--out", str(tmp_path / "run"), "--json", "-q", "--device", "cpu"])
    result = last_json(capsys)
    assert code == 0, result
    rows = result["datasets"]["quartz-4"]["rows"]
    assert [r["method"] for r in rows] == ["FCLS", "CNN original", "CNN + normal (s=0.1)", "CNN + mean only (s=0.1)"]
    assert all(np.isfinite(r["delta_rmse"]) for r in rows)
    assert result["epochs_scale"] == 0.003 and "checks" in result


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
