"""SEM jobs end to end on small generated datasets (train, split, checkpoint, predict, CLI)."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main as cli
from studio.engine import JobPool, RunRegistry, RunSpec
from studio.sem import jobs as sem
from studio.sem.synthetic import generate_dataset


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("sem") / "d", n_hnf=8, n_nhnf=8, size=256, seed=3)


@pytest.fixture
def pool():
    p = JobPool(RunRegistry())
    yield p
    p.shutdown()


def quick_cfg(data, **fit):
    base = dict(iterations=4, batch_size=8)
    base.update(fit)
    return sem.SemTrainConfig(data=str(data), fit=sem.paper_fit_config(**base))


def test_train_writes_checkpoint_split_and_evaluation(pool, small_dataset):
    cfg = quick_cfg(small_dataset)
    job = pool.run(sem.train_sem, cfg, run=RunSpec("sem", "cnn5+fc", cfg.to_dict()))
    assert job.status == "done", job.traceback
    run_dir = job.run.dir
    split = json.loads((run_dir / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"])  # never an image on both sides
    assert len(split["train"]) + len(split["test"]) == 16 and len(split["test"]) == 5  # round(16 * 0.3)
    assert {Path(p).parent.name for p in split["test"]} == {"HNF", "NHNF"}  # stratified
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert len(evaluation["images"]) == 5
    assert set(evaluation["metrics"]) >= {"test/accuracy", "test/auc", "test/image_accuracy"}
    row = job.run.registry.get(job.run.id)
    assert row.status == "completed" and row.final_metrics["steps"] == 4
    assert (run_dir / "model.safetensors").exists() and (run_dir / "model.json").exists()
    # no threshold given: the whole-image verdict was calibrated on the training images, stored with the model
    # and used for the test images' verdicts
    from studio.sem.io import load_dataset

    net, meta = sem.load_model(run_dir)
    dataset = load_dataset(small_dataset)
    train_idx = np.array([dataset.paths.index(Path(split["root"]) / p) for p in split["train"]])
    expected = sem.training_share_threshold(net, dataset, train_idx, "cpu", meta.normalisation)
    assert meta.extra["share_threshold"] == pytest.approx(expected)
    assert meta.extra["share_threshold_source"] == "calibrated on the training images"
    assert evaluation["report"]["share_threshold"] == pytest.approx(expected)
    shares = {Path(i["path"]).name: i["defect_share"] for i in evaluation["images"]}
    assert all((i["predicted"] == "NHNF") == (shares[Path(i["path"]).name] >= expected - 1e-12)
               for i in evaluation["images"])


def test_predict_reports_bad_files_and_keeps_going(pool, small_dataset, tmp_path):
    cfg = quick_cfg(small_dataset)
    trained = pool.run(sem.train_sem, cfg, run=RunSpec("sem", "cnn5+fc", run_dir=str(tmp_path / "run")))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    good = sorted((small_dataset / "NHNF").glob("*.png"))[0]
    job = pool.run(sem.predict_sem, sem.SemPredictConfig(model=str(tmp_path / "run"), images=[str(bad), str(good)]),
                   kind="task")
    assert job.status == "done", job.traceback
    first, second = job.result.images
    assert first.error and "broken.png" in first.error and first.verdict == "error"
    assert not second.error and np.array(second.patch_defect).shape == (2, 2)  # 256² → 2×2 patches
    assert abs(sum(second.probabilities.values()) - 1) < 1e-5
    assert second.verdict in ("defective", "homogeneous")
    out = tmp_path / "p.csv"
    assert sem.predictions_csv(job.result, out) == 2
    assert out.read_text().splitlines()[0] == "path,verdict,defect_share,p_HNF,p_NHNF,error"


def test_fine_tune_needs_matching_classes(pool, small_dataset, tmp_path):
    pool.run(sem.train_sem, quick_cfg(small_dataset), run=RunSpec("sem", "m", run_dir=str(tmp_path / "a")))
    again = quick_cfg(small_dataset)
    again.init_checkpoint = str(tmp_path / "a")
    ok = pool.run(sem.train_sem, again)
    assert ok.status == "done", ok.traceback
    three = tmp_path / "three"
    for cls in ("A", "B", "C"):
        (three / cls).mkdir(parents=True)
        for f in sorted((small_dataset / "HNF").glob("*.png"))[:3]:
            (three / cls / f.name).write_bytes(f.read_bytes())
    mismatch = quick_cfg(three)
    mismatch.init_checkpoint = str(tmp_path / "a")
    job = pool.run(sem.train_sem, mismatch)
    assert job.status == "failed" and job.user_error and "do not match" in job.error


def test_single_class_folder_is_a_clear_user_error(pool, small_dataset):
    job = pool.run(sem.train_sem, quick_cfg(small_dataset / "HNF"))
    assert job.status == "failed" and job.user_error and "HNF" in job.error


def test_cli_train_and_predict_json(small_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["sem", "train", "--data", str(small_dataset), "--iters", "3", "--batch", "8", "--out", str(out),
                "--weight-decay", "0.001", "--share-threshold", "0.25", "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "done" and Path(result["run_dir"]) == out.resolve()
    assert 0.0 <= result["metrics"]["test/accuracy"] <= 1.0
    run = RunRegistry().get(result["run_id"])
    assert run.model == "cnn5-fc40" and run.config["fit"]["weight_decay"] == 0.001  # named as the GUI names it
    image = sorted((small_dataset / "HNF").glob("*.png"))[0]
    bad = Path(str(image)).with_name("missing.png")
    table = tmp_path / "predictions.csv"
    args = ["sem", "predict", "--model", str(out), str(image), "--csv", str(table), "--json", "-q"]
    assert cli(args) == 0
    reply = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    preds = reply["predictions"]
    assert preds[0]["path"] == str(image) and preds[0]["verdict"] in ("defective", "homogeneous")
    assert reply["share_threshold"] == 0.25  # the threshold stored with the model
    import csv

    rows = list(csv.DictReader(table.open(encoding="utf-8")))  # the GUI's Export ▸ CSV layout
    assert [r["path"] for r in rows] == [str(image)] and rows[0]["verdict"] == preds[0]["verdict"]
    assert float(rows[0]["defect_share"]) == pytest.approx(preds[0]["defect_share"], abs=1e-4)
    assert cli(args) == 2 and "exists already" in capsys.readouterr().err  # the CSV is not replaced
    assert cli(["sem", "predict", "--model", str(out), str(image), str(bad), "--csv", str(table), "--overwrite",
                "-q"]) == 2  # a bad image: exit 2, the good one is still classified and exported
    assert [r["error"] != "" for r in csv.DictReader(table.open(encoding="utf-8"))] == [False, True]
    assert cli(["sem", "predict", "--model", str(tmp_path / "nothing"), str(image), "-q"]) == 2
    assert "not found" in capsys.readouterr().err
    assert cli(["sem", "train", "--data", str(small_dataset / "HNF"), "--iters", "1", "--out",
                str(tmp_path / "x"), "-q"]) == 2


def test_short_training_on_a_small_generated_set_clearly_beats_chance(pool, tmp_path):
    """120 Adam iterations on 28 easy 384² images (dense defects): held-out AUC well above 0.5."""
    root = generate_dataset(tmp_path / "easy", n_hnf=14, n_nhnf=14, size=384, seed=2, difficulty_range=(0.0, 0.25))
    cfg = sem.SemTrainConfig(data=str(root), split_seed=2,
                             fit=sem.paper_fit_config(iterations=120, batch_size=16, optimizer="adam", seed=2))
    job = pool.run(sem.train_sem, cfg)
    assert job.status == "done", job.traceback
    m = job.result.metrics
    # 8 held-out images × 9 patches; chance is 0.5 for both figures
    assert m["test/auc"] >= 0.75 and m["test/accuracy"] >= 0.65, m


def test_augmentation_yields_symmetries_of_the_patch_and_keeps_the_label():
    import torch

    from studio.sem.patches import PatchSet

    rng = np.random.default_rng(0)
    patch = rng.integers(0, 255, (1, 128, 128), dtype=np.uint8)
    ps = PatchSet(patch, 255.0, np.array([1]), np.array([0]), np.array([0]), np.array([0]))
    plain, label = sem.PatchTensors(ps, {"mean": 0.0, "std": 1.0})[0]
    symmetries = [torch.rot90(plain, k, (1, 2)) for k in range(4)]
    symmetries += [torch.flip(s, (2,)) for s in symmetries]
    torch.manual_seed(0)
    seen = set()
    aug = sem.PatchTensors(ps, {"mean": 0.0, "std": 1.0}, augment=True)
    for _ in range(64):
        x, y = aug[0]
        assert y == label == 1
        matches = [k for k, s in enumerate(symmetries) if torch.equal(x, s)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == set(range(8))


def test_blur_noise_augmentation_defocuses_and_adds_noise_but_keeps_the_shapes(monkeypatch):
    import torch
    from scipy import ndimage

    from studio.sem.patches import PatchSet

    yy, xx = np.mgrid[:128, :128]
    bead = np.where((yy - 60) ** 2 + (xx - 70) ** 2 < 15**2, 200, 30) + (xx % 2) * 20  # a disc and fine stripes
    ps = PatchSet(bead[None].astype(np.uint8), 255.0, np.array([1]), np.array([0]), np.array([0]), np.array([0]))
    norm = {"mean": 0.0, "std": 1.0}
    plain = sem.PatchTensors(ps, norm)[0][0][0].numpy()

    def draws(n=24):
        torch.manual_seed(3)
        data = sem.PatchTensors(ps, norm, blur_noise=True)
        out = []
        for _ in range(n):
            x, y = data[0]
            assert y == 1
            out.append(x[0].numpy())
        return out

    both = draws()
    assert all(np.array_equal(a, b) for a, b in zip(both, draws()))  # drawn from torch's seeded generator
    coarse = ndimage.gaussian_filter(plain, 4)
    assert all(np.abs(ndimage.gaussian_filter(x, 4) - coarse).max() < 0.05 for x in both)  # the disc stays
    assert len({round(float(np.abs(x - plain).mean()), 6) for x in both}) == len(both)  # a new draw each time
    # blur alone: the fine stripes fade by a random amount, from barely to almost gone
    monkeypatch.setattr(sem, "NOISE_SIGMA_MAX", 0.0)
    stripes = [np.abs(np.diff(x[:, :40], axis=1)).mean() / np.abs(np.diff(plain[:, :40], axis=1)).mean()
               for x in draws()]
    assert max(stripes) <= 1.0 + 1e-6 and min(stripes) < 0.2 and max(stripes) > 0.8
    # noise alone: zero-mean noise of a random strength up to NOISE_SIGMA_MAX
    monkeypatch.setattr(sem, "NOISE_SIGMA_MAX", 0.04)
    monkeypatch.setattr(sem, "BLUR_SIGMA_MAX", 0.0)
    spread = [float((x - plain).std()) for x in draws()]
    assert max(spread) <= 0.04 * 1.1 and min(spread) < 0.01 and max(spread) > 0.025


def test_per_patch_standardisation_removes_level_and_gain_and_keeps_flat_patches_flat():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.6, (3, 128, 128)).astype(np.float32)
    norm = {"mean": 0.3, "std": 0.2, "per_patch": True}
    z = sem.standardise_patches(x, norm)
    assert np.allclose(z.mean(axis=(1, 2)), 0, atol=1e-5) and np.allclose(z.std(axis=(1, 2)), 1, atol=1e-4)
    # a darker, lower-contrast exposure of the same patch gives the same input
    assert np.allclose(sem.standardise_patches(0.5 * x + 0.2, norm), z, atol=1e-4)
    flat = np.full((1, 128, 128), 0.4, np.float32) + rng.normal(0, 1e-4, (1, 128, 128)).astype(np.float32)
    assert np.abs(sem.standardise_patches(flat, norm)).max() < 0.1  # noise of a flat patch is not blown up
    # the dataset mode (and checkpoints made before the option) use the two scalars
    assert np.allclose(sem.standardise_patches(x, {"mean": 0.3, "std": 0.2}), (x - 0.3) / 0.2)
    with pytest.raises(ValueError):
        sem.standardisation(None, mode="pixel")


def test_per_patch_model_predicts_with_the_normalisation_it_was_trained_with(pool, small_dataset, tmp_path):
    import torch

    cfg = quick_cfg(small_dataset)
    cfg.input_norm = "patch"
    job = pool.run(sem.train_sem, cfg, run=RunSpec("sem", "m", run_dir=str(tmp_path / "run")))
    assert job.status == "done", job.traceback
    net, meta = sem.load_model(tmp_path / "run")
    assert meta.normalisation["per_patch"] is True and "per patch" in meta.normalisation["input"]
    image = sem.read_image(sorted((small_dataset / "NHNF").glob("*.png"))[0])[0].astype(np.float32) / 255
    got = np.array(sem.predict_image(net, meta, image, "cpu").patch_defect).ravel()
    patches = np.stack([image[r:r + 128, c:c + 128] for r in (0, 128) for c in (0, 128)])
    x = (patches - patches.mean(axis=(1, 2), keepdims=True)) / patches.std(axis=(1, 2), keepdims=True)
    with torch.no_grad():
        want = 1 - torch.softmax(net(torch.from_numpy(x[:, None])), 1)[:, 0].numpy()
    assert np.allclose(got, want, atol=1e-5)


def test_shift_augmentation_moves_the_patch_inside_its_image():
    import torch

    from studio.sem.patches import build_patch_set

    class One:
        labels = np.array([1])

        def __init__(self, img):
            self.img = img

        def raw(self, i):
            return self.img, 255.0

    img = np.random.default_rng(1).integers(0, 255, (384, 384), dtype=np.uint8)
    ps = build_patch_set(One(img), [0], mode="representative", representative=4, margin=8)  # centre cell
    norm = {"mean": 0.0, "std": 1.0}
    with pytest.raises(ValueError):
        sem.PatchTensors(build_patch_set(One(img), [0], mode="representative", representative=4), norm, shift=8)
    torch.manual_seed(0)
    offsets = set()
    for _ in range(40):
        x, y = sem.PatchTensors(ps, norm, shift=8)[0]
        assert y == 1
        found = [(dy, dx) for dy in range(-8, 9) for dx in range(-8, 9)
                 if np.array_equal(np.rint(x[0].numpy() * 255), img[128 + dy:256 + dy, 128 + dx:256 + dx])]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 10  # random offsets, not one fixed crop
    # a corner cell moves inwards only, over the whole room there: never a crop past the image's border
    corner = build_patch_set(One(img), [0], mode="representative", representative=0, margin=8)
    offsets = set()
    for _ in range(60):
        x, _ = sem.PatchTensors(corner, norm, shift=8)[0]
        found = [(dy, dx) for dy in range(0, 9) for dx in range(0, 9)
                 if np.array_equal(np.rint(x[0].numpy() * 255), img[dy:128 + dy, dx:128 + dx])]
        assert len(found) == 1
        offsets.add(found[0])
    assert {dy for dy, _ in offsets} == set(range(9)) and {dx for _, dx in offsets} == set(range(9))


@pytest.mark.parametrize("bad", [{"shift": 200}, {"shift": -1}, {"share_threshold": 0.0}, {"share_threshold": 1.5},
                                 {"average_from": 1.0}, {"average_from": -0.1}])
def test_out_of_range_training_options_are_refused_with_their_name(bad):
    from studio.engine.jobs import UserError

    with pytest.raises(UserError, match=next(iter(bad)).replace("_", " ")):
        sem.train_sem(None, sem.SemTrainConfig(data="/nonexistent", **bad))  # refused before the data are read


def test_representative_protocol_reports_the_flip_averaged_accuracy(pool, small_dataset):
    from studio.sem.io import load_dataset
    from studio.sem.patches import build_patch_set

    cfg = dataclasses.replace(quick_cfg(small_dataset), patch_mode="representative", shift=0)
    job = pool.run(sem.train_sem, cfg, run=RunSpec("sem", "cnn5+fc", cfg.to_dict()))
    assert job.status == "done", job.traceback
    got = job.result.metrics["test/accuracy_flip_average"]
    # recomputed from the saved model: mean softmax over the 8 flips/rotations of each test patch
    net, meta = sem.load_model(job.run.dir)
    split = json.loads((job.run.dir / "split.json").read_text())
    dataset = load_dataset(small_dataset)
    test_idx = np.array([dataset.paths.index(Path(split["root"]) / p) for p in split["test"]])
    rep = build_patch_set(dataset, test_idx, mode="representative", representative=cfg.representative)
    views = [np.rot90(rep.patches, k, axes=(1, 2)) for k in range(4)]
    views += [v[:, :, ::-1] for v in views]
    probs = np.mean([sem.patch_probabilities(net, np.ascontiguousarray(v), rep.scale, "cpu", meta.normalisation)
                     for v in views], axis=0)
    assert got == pytest.approx(np.mean(probs.argmax(1) == np.asarray(rep.labels)))
    # each test image carries its representative patch's own call, which the headline accuracy counts
    calls = [e["representative"] for e in job.result.test_images]
    assert len(calls) == len(test_idx)
    assert np.mean([c["correct"] for c in calls]) == pytest.approx(job.result.metrics["test/accuracy"])
    plain = sem.patch_probabilities(net, rep.patches, rep.scale, "cpu", meta.normalisation)
    for entry, i, k in zip(job.result.test_images, test_idx, range(len(test_idx))):
        assert entry["path"] == str(dataset.paths[i]) and rep.image_index[k] == i
        call = entry["representative"]
        assert (call["row"], call["col"]) == (rep.rows[k], rep.cols[k])
        assert call["defect_probability"] == pytest.approx(1 - plain[k, 0], abs=1e-5)  # HNF is class 0
        assert call["correct"] == (call["predicted"] == entry["label"])
    # the model's accuracy on its own training patches (unshifted, unflipped), recomputed from the saved model
    train_idx = np.array([dataset.paths.index(Path(split["root"]) / p) for p in split["train"]])
    train = build_patch_set(dataset, train_idx, mode="representative", representative=cfg.representative)
    tprobs = sem.patch_probabilities(net, train.patches, train.scale, "cpu", meta.normalisation)
    assert job.result.metrics["train/accuracy"] == pytest.approx(np.mean(tprobs.argmax(1) == np.asarray(train.labels)))
