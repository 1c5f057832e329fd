"""Audio jobs end to end on a tiny generated dataset: training, the frozen classifier, evaluation, inspection, CLI."""
import json

import numpy as np
import pytest
import soundfile as sf

from studio.audio import jobs as au
from studio.audio.synthetic import generate_dataset
from studio.cli import main as cli
from studio.engine import JobPool, RunRegistry, RunSpec
from studio.engine.checkpoints import load_checkpoint

CLASSES = ["car_horn", "dog_bark", "siren"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("audio") / "us8k", per_class=10, classes=CLASSES, max_seconds=1.0)


@pytest.fixture
def pool():
    p = JobPool(RunRegistry())
    yield p
    p.shutdown()


def cfg_for(data, model="cnn", **kw):
    return au.AudioTrainConfig(data=str(data), model=model, epochs=kw.pop("epochs", 1), batch=8, width=0.125, **kw)


def train(pool, cfg, run_dir):
    job = pool.run(au.train_audio, cfg, run=RunSpec("audio", cfg.model, cfg.to_dict(), run_dir=str(run_dir)))
    assert job.status == "done", job.traceback
    return job


def test_cnn_then_frozen_dfe(pool, tiny_dataset, tmp_path):
    cnn = train(pool, cfg_for(tiny_dataset, epochs=2), tmp_path / "cnn")
    assert set(cnn.result.metrics) >= {"train/loss", "dev/accuracy", "test/accuracy"}
    assert cnn.result.classes == CLASSES and cnn.result.checkpoint.endswith("model.safetensors")
    names = set(cnn.run.registry.metric_names(cnn.run.id))
    assert {"train/loss", "val/accuracy"} <= names
    before, _ = load_checkpoint(tmp_path / "cnn" / "model")

    dfe = train(pool, cfg_for(tiny_dataset, "dfe", classifier=str(tmp_path / "cnn")), tmp_path / "dfe")
    after, meta = load_checkpoint(tmp_path / "dfe" / "model")
    assert meta.model_kind == "audio-dfe" and meta.extra["classifier_source"] == str(tmp_path / "cnn")
    # the classifier inside the enhancer checkpoint is bit-identical to the one it was given
    for key, value in before.items():
        assert np.array_equal(after["classifier." + key].numpy(), value.numpy()), key
    assert any(k.startswith("enhancer.heads.") for k in after)
    # and the enhancer did train: its weights moved away from a fresh initialisation
    model, meta = au.load_audio_model(tmp_path / "dfe")
    assert meta.hyperparameters["kind"] == "dfe" and hasattr(model, "enhance")
    assert dfe.result.metrics["classifier/test/accuracy"] == cnn.result.metrics["test/accuracy"]


def test_enhancer_without_classifier_trains_one_first_and_dcl_has_two_stages(pool, tiny_dataset, tmp_path):
    job = train(pool, cfg_for(tiny_dataset, "dcl", epochs=1), tmp_path / "dcl")
    assert (tmp_path / "dcl" / "classifier.safetensors").exists()
    names = set(job.run.registry.metric_names(job.run.id))
    assert {"classifier/train/loss", "train/loss", "stage2/train/loss", "stage2/val/accuracy"} <= names
    tensors, _ = load_checkpoint(tmp_path / "dcl" / "model")
    cls, _ = load_checkpoint(tmp_path / "dcl" / "classifier")
    for key, value in cls.items():
        assert np.array_equal(tensors["classifier." + key].numpy(), value.numpy())
    assert any(k.startswith("enhancer.second.") for k in tensors)


def test_evaluate_streams_grid_and_files_from_user_noise(pool, tiny_dataset, tmp_path):
    train(pool, cfg_for(tiny_dataset, epochs=1), tmp_path / "cnn")
    noise_file = tmp_path / "hum.flac"
    t = np.arange(16000) / 16000
    sf.write(noise_file, 0.1 * np.sin(2 * np.pi * 100 * t), 16000)
    cfg = au.AudioEvalConfig(model=str(tmp_path / "cnn"), noises=("pink", str(noise_file)), snrs=(5, 0))
    seen = []
    pool.subscribe(lambda e: e.kind == "metric" and e.data["name"].startswith("grid/") and seen.append(e.data["name"]))
    job = pool.run(au.evaluate_audio, cfg, run=RunSpec("audio", "evaluate", cfg.to_dict(), run_dir=str(tmp_path / "ev")))
    assert job.status == "done", job.traceback
    r = job.result
    assert seen == ["grid/pink/5", "grid/pink/0", "grid/hum/5", "grid/hum/0"]
    assert set(r["grid"]) == {"pink", "hum"} and set(r["grid"]["pink"]) == {5, 0}
    assert np.array(r["confusion"]).sum() == r["n_test"] == 3 and len(r["per_class"]) == 3
    assert 0 <= r["clean"]["test"] <= 1 and r["classes"] == CLASSES
    saved = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert saved["grid"]["hum"]["0"] == r["grid"]["hum"][0]
    assert (tmp_path / "ev" / "grid.csv").read_text().splitlines()[0] == "model,snr_db,pink,hum"
    bad = pool.run(au.evaluate_audio, au.AudioEvalConfig(model=str(tmp_path / "cnn"), noises=("purple",)))
    assert bad.status == "failed" and bad.user_error and "purple" in bad.error


def test_inspect_clip_and_classify(pool, tiny_dataset, tmp_path):
    train(pool, cfg_for(tiny_dataset, epochs=1), tmp_path / "cnn")
    train(pool, cfg_for(tiny_dataset, "sfe", epochs=1, classifier=str(tmp_path / "cnn")), tmp_path / "sfe")
    wave = np.sin(2 * np.pi * 440 * np.arange(20000) / 16000).astype(np.float32) * 0.3
    ins = au.inspect_clip([str(tmp_path / "cnn"), str(tmp_path / "sfe")], wave, "babble", 0.0)
    assert ins.clean_mel.shape == ins.noisy_mel.shape == (40, 249) and ins.classes == CLASSES
    assert not np.allclose(ins.clean_mel, ins.noisy_mel)
    assert ins.noisy_probs.shape == (3,) and abs(ins.noisy_probs.sum() - 1) < 1e-5
    (cnn_label, cnn), (sfe_label, sfe) = ins.per_model.items()
    assert cnn_label.startswith("CNN-FC") and sfe_label.startswith("SFE")
    assert sfe["mask"].shape == sfe["enhanced"].shape == (40, 249) and 0 <= sfe["mask"].min() <= sfe["mask"].max() <= 1
    np.testing.assert_allclose(sfe["enhanced"], ins.noisy_mel * sfe["mask"], atol=1e-6)
    np.testing.assert_allclose(cnn["probs"], ins.noisy_probs, atol=1e-6)
    clean = au.inspect_clip([str(tmp_path / "sfe" / "model.safetensors")], wave, "none", None)
    np.testing.assert_array_equal(clean.clean_mel, clean.noisy_mel)
    silent = au.inspect_clip([str(tmp_path / "sfe")], np.zeros(16000, np.float32), "pink", 5.0)
    assert not silent.noisy_mel.any() and np.isfinite(silent.noisy_probs).all()

    long = tmp_path / "long.wav"
    sf.write(long, np.tile(wave, 8)[:16000 * 9], 16000)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    quiet = tmp_path / "silent.ogg"
    sf.write(quiet, np.zeros(8000), 16000)
    job = pool.run(au.classify_files, au.ClassifyConfig(model=str(tmp_path / "sfe"),
                                                        files=[str(long), str(bad), str(quiet)]), kind="task")
    assert job.status == "done", job.traceback
    rows = job.result
    assert [r["segment"] for r in rows[:3]] == [0, 1, 2] and rows[2]["start_s"] == 8.0  # 9 s → three windows
    assert all(r["label"] in CLASSES and abs(sum(r["probs"].values()) - 1) < 1e-5 for r in rows[:3])
    assert rows[3]["file"] == str(bad) and "not an audio file" in rows[3]["error"]
    assert rows[4]["file"] == str(quiet) and "error" not in rows[4] and np.isfinite(list(rows[4]["probs"].values())).all()


def test_bad_settings_fail_with_a_message(pool, tiny_dataset, tmp_path):
    train(pool, cfg_for(tiny_dataset, epochs=1), tmp_path / "cnn")
    job = pool.run(au.train_audio, cfg_for(tiny_dataset, "dsl", classifier=str(tmp_path / "nothing")))
    assert job.status == "failed" and job.user_error and "nothing" in job.error
    other = tmp_path / "other"
    generate_dataset(other, per_class=10, classes=["siren", "gun_shot"], max_seconds=0.5)
    job = pool.run(au.train_audio, cfg_for(other, "sfe", classifier=str(tmp_path / "cnn")))
    assert job.status == "failed" and job.user_error and "classes" in job.error


def test_cli_train_evaluate_classify(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["audio", "train", "--data", str(tiny_dataset), "--model", "cnn", "--epochs", "1", "--width", "0.125",
            "--batch", "8", "--device", "cpu", "--out", str(out), "--json", "-q"]
    assert cli(args) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["status"] == "done" and res["run_dir"] == str(out) and "test/accuracy" in res["metrics"]
    assert cli(args) == 2  # an existing model is not overwritten without --overwrite
    assert "already holds" in capsys.readouterr().err
    assert cli(["audio", "evaluate", "--model", str(out), "--noise", "white", "--snr", "10", "--json", "-q",
                "--device", "cpu"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(ev["grid"]) == {"white"} and list(ev["grid"]["white"]) == ["10"] and ev["n_test"] == 3
    assert RunRegistry().get(ev["run_id"]).model == "eval-cnn"
    clip = sorted((tiny_dataset / "audio" / "fold10").glob("*.wav"))[0]
    # the GUI's centre view and its feature exports, headless: a CNN-FC and an enhancer through it
    dfe = tmp_path / "dfe"
    assert cli(["audio", "train", "--data", str(tiny_dataset), "--model", "dfe", "--classifier", str(out), "--epochs",
                "1", "--width", "0.125", "--batch", "8", "--device", "cpu", "--out", str(dfe), "-q"]) == 0
    capsys.readouterr()
    features = tmp_path / "features"
    enhance = ["audio", "enhance", "--model", str(out), "--model", str(dfe), str(clip), "--noise", "pink", "--snr",
               "0", "--out", str(features), "--json", "-q", "--device", "cpu"]
    assert cli(enhance) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["snr_db"] == 0 and set(r["noisy_probs"]) == set(CLASSES) and len(r["models"]) == 2
    names = sorted(p.name for p in features.iterdir())
    assert names == ["DFE_dfe-enhanced.npy", "DFE_dfe-mask.npy", "clean.npy", "noisy.npy"]
    inspection = au.inspect_clip([str(out), str(dfe)], au.read_segment(clip), "pink", 0.0)  # what the GUI shows
    np.testing.assert_allclose(np.load(features / "noisy.npy"), inspection.noisy_mel, rtol=1e-6)
    np.testing.assert_allclose(np.load(features / "DFE_dfe-enhanced.npy"),
                               inspection.per_model["DFE · dfe"]["enhanced"], rtol=1e-5, atol=1e-6)
    assert cli(enhance) == 2  # files there are not replaced without --overwrite
    assert "exists already" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert cli(["audio", "classify", "--model", str(out), str(clip), "--json", "-q", "--device", "cpu"]) == 0
    pred = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["predictions"]
    assert len(pred) == 1 and pred[0]["label"] in CLASSES
    missing = tmp_path / "missing.wav"
    assert cli(["audio", "classify", "--model", str(out), str(missing), "-q", "--device", "cpu"]) == 2
    assert cli(["audio", "train", "--data", str(tmp_path / "nowhere"), "--model", "cnn", "--out",
                str(tmp_path / "r2"), "-q", "--device", "cpu"]) == 2
    assert "nowhere" in capsys.readouterr().err
