"""Unmixing jobs end to end on tiny configurations (evaluate table, augmenter, CNN, generate)."""
import math

import numpy as np
import pytest

from studio.engine import JobPool, RunRegistry, RunSpec
from studio.unmixing import jobs as um
from studio.unmixing.augmentation import MomentTrainConfig


@pytest.fixture
def pool():
    p = JobPool(RunRegistry(), configure_threads=False)
    yield p
    p.shutdown()


def tiny_eval_cfg(**kw):
    base = dict(datasets=["quartz-4"], spectra_per_mixture=12, epochs_scale=0.005, steps=[0.1], n_per_vector=4,
                gamn_per_vector=8, moments=MomentTrainConfig(cov_batch_size=4096),
                cnn=um.CnnFitSettings(batch_size=64))
    base.update(kw)
    return um.EvaluateConfig(**base)


def test_paper_epoch_table_is_scaled():
    assert um.cnn_epochs("quartz-3", "normal") == 251 and um.cnn_epochs("quartz-3", "none") == 81
    assert um.cnn_epochs("quartz-4", "mean", 0.5) == 16 and um.cnn_epochs("colour-4", "none", 0.001) == 1
    mc = um.moment_config("colour-4", epochs_scale=0.1)
    assert (mc.mean_epochs, mc.cov_epochs) == (3000, 4000) and mc.scaled_epochs() == (300, 400)


def test_evaluate_job_runs_end_to_end_with_finite_numbers(pool):
    cfg = tiny_eval_cfg()
    job = pool.run(um.evaluate_job, cfg, run=RunSpec(um.WORKBENCH, "evaluate", cfg.to_dict()))
    assert job.status == "done", job.traceback
    d = job.result["datasets"]["quartz-4"]
    methods = [r["method"] for r in d["rows"]]
    assert methods == ["FCLS", "ELMM", "CNN original", "CNN + normal (s=0.1)", "CNN + mean only (s=0.1)"]
    for r in d["rows"]:
        assert math.isfinite(r["delta_rmse"]) and 0 <= r["delta_rmse"] < 1, r
    gamn = {r["strategy"]: r["delta_gamn"] for r in d["rows"] if r.get("strategy") in ("normal", "mean")}
    assert all(math.isfinite(v) and v > 0 for v in gamn.values())
    # 4 per new vector asked; 270 × 4 > 5 × 192 measured, so the cap gives 3 (5 × 192 // 270)
    assert d["rows"][3]["new_vectors"] == 286 - 16 and d["rows"][3]["generated_per_vector"] == 3
    assert d["rows"][3]["train_spectra"] == 16 * 12 + 270 * 3
    assert d["train_vectors"] == 16 and d["test_vectors"] == 40
    checks = job.result["checks"]["quartz-4"]
    assert set(checks) == {"cnn_beats_fcls_and_elmm", "augmentation_lowers_cnn_rmse", "normal_gamn_below_mean_only"}
    assert "Δ_RMSE" in job.result["table"] and "CNN + mean only (s=0.1)" in job.result["table"]
    run = job.run.registry.get(job.run.id)
    assert run.final_metrics["quartz-4/FCLS/delta_rmse"] == pytest.approx(d["rows"][0]["delta_rmse"])
    assert (run.dir / "evaluation.json").exists() and (run.dir / "quartz-4" / "augmenter.safetensors").exists()
    assert "quartz-4/N_k/train/loss" in job.run.registry.metric_names(job.run.id)


def test_generated_per_vector_caps_the_generated_share():
    # the paper's 400 per new vector where the new vectors are few (quartz-3, s = 0.125: 30 new, 6000 measured)
    assert um.generated_per_vector(6000, 30, 400) == 400
    # colour-4 at s = 0.05: 1755 new vectors against 6400 measured spectra -> 5 × 6400 // 1755 = 18
    n = um.generated_per_vector(6400, 1755, 400)
    assert n == 18 and n * 1755 <= um.MAX_GENERATED_RATIO * 6400 < (n + 1) * 1755
    assert um.generated_per_vector(6400, 1755, 400, max_generated_ratio=20) == 72
    assert um.generated_per_vector(6400, 1755, 400, max_generated_ratio=None) == 400  # no cap
    assert um.generated_per_vector(6400, 1755, 10) == 10  # the cap never raises the count
    assert um.generated_per_vector(10, 1755, 400, max_generated_ratio=1) == 1  # at least one per vector


def test_train_augmenter_then_generate_and_cnn(pool, tmp_path):
    cfg = um.AugmentConfig(dataset="quartz-3", spectra_per_mixture=10, epochs_scale=0.005, step=0.125, n_per_vector=3,
                           out=str(tmp_path / "aug"), moments=MomentTrainConfig(cov_batch_size=4096))
    job = pool.run(um.train_augmenter_job, cfg)
    assert job.status == "done", job.traceback
    r = job.result
    assert (r["mean_epochs"], r["cov_epochs"]) == (10, 10)
    assert r["new_vectors"] == 45 - 15 and r["generated_spectra"] == 30 * 3
    with np.load(tmp_path / "aug" / "generated.npz") as z:
        assert z["spectra"].shape == (90, 91) and np.allclose(z["abundances"].sum(1), 1)
    gen = pool.run(um.generate_job, um.GenerateConfig(augmenter=str(tmp_path / "aug"), step=0.25, strategy="mean",
                                                      n_per_vector=2, out=str(tmp_path / "g.npz")))
    assert gen.status == "done", gen.traceback
    assert gen.result["vectors"] == 0  # every vector of the 0.25 grid is a training vector of quartz-3
    cnn_cfg = um.CnnTrainConfig(dataset="quartz-3", spectra_per_mixture=10, augmentation="normal", step=0.125,
                                augmenter=str(tmp_path / "aug"), n_per_vector=3, epochs=2)
    cnn = pool.run(um.train_cnn_job, cnn_cfg, run=RunSpec(um.WORKBENCH, "cnn", cnn_cfg.to_dict()))
    assert cnn.status == "done", cnn.traceback
    assert cnn.result["metrics"]["new_vectors"] == 30 and math.isfinite(cnn.result["metrics"]["test/delta_rmse"])
    assert cnn.result["metrics"]["generated_per_vector"] == 3 and cnn.result["metrics"]["train_spectra"] == 150 + 90
    # the cap on generated / measured spectra: 0.2 × 150 measured = 30 generated, 1 per new vector
    capped = pool.run(um.train_cnn_job, um.CnnTrainConfig(**{**cnn_cfg.to_dict(), "max_generated_ratio": 0.2,
                                                             "cnn": cnn_cfg.cnn, "moments": cnn_cfg.moments}))
    assert capped.status == "done", capped.traceback
    assert capped.result["metrics"]["generated_per_vector"] == 1 and capped.result["metrics"]["train_spectra"] == 180
    model, norm, meta = um.load_cnn(cnn.run.dir)
    assert meta.class_names == ["red quartz", "green quartz", "blue quartz"]
    assert norm["mode"] == "none" and meta.normalisation["input"] == "reflectance"  # the default: raw reflectance


@pytest.mark.parametrize("mode", ["none", "band"])
def test_cnn_input_scaling_is_stored_and_reused(pool, mode):
    """Both input scalings: the checkpoint says which, and the reloaded CNN reproduces the run's test error."""
    cfg = um.CnnTrainConfig(dataset="quartz-4", spectra_per_mixture=6, augmentation="none", epochs=1,
                            cnn=um.CnnFitSettings(batch_size=32, normalisation=mode))
    job = pool.run(um.train_cnn_job, cfg, run=RunSpec(um.WORKBENCH, "cnn", cfg.to_dict()))
    assert job.status == "done", job.traceback
    model, norm, meta = um.load_cnn(job.run.dir)
    assert norm["mode"] == mode and meta.normalisation["input"] == (
        "reflectance" if mode == "none" else "(reflectance - band mean) / band std")
    train, test, _ = um.split_dataset(um.open_dataset("quartz-4", spectra_per_mixture=6))
    if mode == "band":
        np.testing.assert_allclose(norm["mean"], train.spectra.mean(0), atol=1e-5)
    rmse = float(np.sqrt(np.mean((um.predict_abundances(model, test.spectra, norm) - test.abundances) ** 2)))
    assert rmse == pytest.approx(job.result["metrics"]["test/delta_rmse"], rel=1e-4)


def test_bad_dataset_name_is_a_user_error(pool, tmp_path):
    job = pool.run(um.evaluate_job, tiny_eval_cfg(datasets=[str(tmp_path / "missing.csv")]))
    assert job.status == "failed" and job.user_error and "missing.csv" in job.error
