"""Segmentation jobs and ``studio-cli seg`` end to end on a tiny generated dataset, tiny network, few iterations."""
import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from studio.cli import main as cli
from studio.engine import JobPool, RunRegistry, RunSpec
from studio.engine.checkpoints import CheckpointMeta, save_checkpoint
from studio.segmentation import jobs as seg
from studio.segmentation.io import SegInputError, read_mask
from studio.segmentation.synthetic import write_dataset

TINY_TRAIN = ["--iters", "2", "--batch", "2", "--base-width", "4", "--val-every", "1", "-q", "--device", "cpu"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("seg") / "data", preset="tiny", seed=1)


@pytest.fixture
def pool():
    p = JobPool(RunRegistry())
    yield p
    p.shutdown()


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def tiny_cfg(data, **kw):
    base = dict(data=str(data), iters=2, batch=2, base_width=4, val_every=1)
    base.update(kw)
    return seg.SegTrainConfig(**base)


def test_cli_train_predict_evaluate(tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    code = cli(["seg", "train", "--data", str(tiny_data), "--variant", "alpha0.5", *TINY_TRAIN, "--out", str(run),
                "--json"])
    out = last_json(capsys)
    assert code == 0, out
    assert out["variant"] == "alpha0.5" and out["params"] > 0 and out["metrics"]["steps"] == 2
    assert {"test/miou", "test/pixel_acc", "test/mean_acc", "val/miou"} <= set(out["metrics"])
    assert (run / "model.safetensors").exists() and (run / "evaluation.json").exists()
    meta = json.loads((run / "model.json").read_text())
    assert meta["hyperparameters"]["alphas"] == [0.5] * 4 and len(meta["normalisation"]["mean"]) == 3
    row = RunRegistry().get(out["run_id"])
    assert row.status == "completed" and row.final_metrics["steps"] == 2
    assert "val/miou" in RunRegistry().metric_names(row.id)

    image = tiny_data / "test" / "scene_0005.png"
    geo = tmp_path / "geo.tif"
    tifffile.imwrite(geo, np.asarray(Image.open(image)),
                     extratags=[(33550, "d", 3, (1.0, 1.0, 0.0), True),
                                (33922, "d", 6, (0, 0, 0, 300000.0, 4700000.0, 0), True)])
    masks = tmp_path / "masks"
    code = cli(["seg", "predict", "--model", str(run), str(image), str(geo), "--out", str(masks), "--json", "-q",
                "--device", "cpu"])
    out = last_json(capsys)
    assert code == 0, out
    assert (masks / "scene_0005_mask.png").exists() and (masks / "geo_mask.png").exists()
    assert read_mask(masks / "scene_0005_mask.png").shape == (160, 160)
    with tifffile.TiffFile(masks / "geo_mask.tif") as tif:
        assert tif.pages[0].tags[33922].value[3] == 300000.0
    assert not (masks / "scene_0005_mask.tif").exists()  # a PNG input has no georeferencing to keep
    # existing outputs are not replaced without --overwrite
    (masks / "geo_mask.png").write_bytes(b"mine")
    code = cli(["seg", "predict", "--model", str(run), str(geo), "--out", str(masks), "-q", "--device", "cpu"])
    assert code == 2 and (masks / "geo_mask.png").read_bytes() == b"mine"
    assert "geo_mask.png" in capsys.readouterr().err

    code = cli(["seg", "evaluate", "--model", str(run), "--data", str(tiny_data), "--json", "-q", "--device", "cpu"])
    out = last_json(capsys)
    assert code == 0, out
    assert {"miou", "pixel_acc", "mean_acc", "iou_building", "iou_background"} <= set(out)
    assert [r["name"] for r in out["per_image"]] == ["scene_0005"]
    # the same numbers as the test evaluation at the end of training
    trained = json.loads((run / "evaluation.json").read_text())["metrics"]
    assert out["miou"] == pytest.approx(trained["test/miou"], abs=1e-6)


def test_cli_repeat_runs_with_a_corrected_mask(tiny_data, tmp_path, capsys):
    """The box plot's repeated runs and Retrain with corrected masks, headless."""
    image = tiny_data / "train" / "scene_0000.png"
    corrected = tmp_path / "corrected.png"
    Image.fromarray(np.zeros((160, 160), np.uint8)).save(corrected)
    code = cli(["seg", "repeat", "--data", str(tiny_data), "--iters", "1", *TINY_TRAIN[2:], "--runs", "2",
                "--extra", str(image), str(corrected), "--out", str(tmp_path / "rep"), "--json"])
    out = last_json(capsys)
    assert code == 0, out
    assert [r["seed"] for r in out["runs"]] == [0, 1] and out["box"]["n"] == 2
    run = RunRegistry().get(out["run_id"])
    assert run.model == "baseline-repeat" and run.config["runs"] == 2  # as the GUI records it
    assert run.config["train"]["extra_samples"] == [[str(image), str(corrected)]]
    assert run.final_metrics["repeat/runs"] == 2
    saved = json.loads((tmp_path / "rep" / "repeats.json").read_text())
    assert [r["miou"] for r in saved["runs"]] == [r["miou"] for r in out["runs"]]
    meta = json.loads((tmp_path / "rep" / "run02" / "model.json").read_text())
    assert meta["extra"]["extra_samples"] == 1 and meta["extra"]["seed"] == 1
    code = cli(["seg", "repeat", "--data", str(tiny_data), *TINY_TRAIN, "--runs", "1", "--extra", str(image),
                str(tmp_path / "missing.png"), "--out", str(tmp_path / "rep2")])
    assert code == 2 and "missing.png" in capsys.readouterr().err


def test_cli_variants_counts_table_1_networks(capsys):
    assert cli(["seg", "variants", "--variant", "baseline", "--variant", "alpha0.1", "--json", "-q",
                "--device", "cpu"]) == 0
    rows = {r["variant"]: r for r in last_json(capsys)["variants"]}
    assert rows["baseline"]["params"] == pytest.approx(5.11e6, rel=0.01)  # Table I: 5.11 M
    assert rows["alpha0.1"]["params"] == rows["baseline"]["params"] + 4  # Table I's "+4": the α_i constants
    assert rows["alpha0.1"]["alphas"] == [0.1] * 4 and rows["baseline"]["gflops"] > 0


def test_cli_bad_inputs_exit_2_naming_the_file(tiny_data, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(["seg", "train", "--data", str(empty), *TINY_TRAIN, "--out", str(tmp_path / "r")]) == 2
    assert "empty" in capsys.readouterr().err
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00garbage")
    not_a_model = tmp_path / "nomodel"
    not_a_model.mkdir()
    assert cli(["seg", "predict", "--model", str(not_a_model), str(bad), "--out", str(tmp_path / "o"), "-q"]) == 2
    assert "nomodel" in capsys.readouterr().err


def test_bad_image_among_good_ones_and_small_images(pool, tiny_data, tmp_path):
    trained = pool.run(seg.train_segmentation, tiny_cfg(tiny_data, out_dir=str(tmp_path / "m")))
    assert trained.status == "done", trained.traceback
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00garbage")
    small = tmp_path / "small.png"
    Image.fromarray(np.full((30, 41, 3), 120, np.uint8)).save(small)
    job = pool.run(seg.predict_segmentation, seg.SegPredictConfig(model=trained.result.checkpoint,
                                                                  images=[str(bad), str(small)]), kind="task")
    assert job.status == "done", job.traceback
    first, second = job.result
    assert "broken.tif" in first.error
    assert not second.error and second.prob.shape == (30, 41) and second.mask.dtype == bool


def test_fine_tune_with_a_corrected_mask(pool, tiny_data, tmp_path):
    base = pool.run(seg.train_segmentation, tiny_cfg(tiny_data, variant="dynamic", out_dir=str(tmp_path / "a")))
    assert base.status == "done", base.traceback
    image = tiny_data / "test" / "scene_0005.png"
    corrected = np.zeros((160, 160), bool)
    corrected[40:90, 50:120] = True
    Image.fromarray(corrected.astype(np.uint8) * 255).save(tmp_path / "corrected.png")
    logs = []
    pool.subscribe(lambda e: logs.append(e.data["text"]) if e.kind == "log" else None)
    cfg = tiny_cfg(tiny_data, variant="baseline", init_checkpoint=str(tmp_path / "a"), iters=1,
                   extra_samples=[(str(image), str(tmp_path / "corrected.png"))], out_dir=str(tmp_path / "b"))
    job = pool.run(seg.train_segmentation, cfg)
    assert job.status == "done", job.traceback
    assert job.result.variant == "dynamic"  # the checkpoint's architecture is kept
    assert any("fine-tuning" in t for t in logs) and any("(1 corrected)" in t for t in logs)
    model, meta = seg.load_segmenter(tmp_path / "b")
    assert meta.extra["init_checkpoint"] == str(tmp_path / "a") and meta.extra["extra_samples"] == 1


def test_repeat_runs_give_one_row_per_seed(pool, tiny_data, tmp_path):
    cfg = seg.RepeatConfig(train=tiny_cfg(tiny_data, iters=1, out_dir=str(tmp_path / "rep")), runs=2)
    job = pool.run(seg.repeat_runs, cfg, run=RunSpec(seg.WORKBENCH, "baseline x2", run_dir=str(tmp_path / "rep")))
    assert job.status == "done", job.traceback
    assert [r["seed"] for r in job.result] == [0, 1]
    assert all(0 <= r["miou"] <= 1 for r in job.result)
    assert json.loads((tmp_path / "rep" / "repeats.json").read_text())["box"]["n"] == 2


def test_a_foreign_checkpoint_is_refused(tmp_path):
    import torch

    save_checkpoint(tmp_path / "other", {"w": torch.zeros(2)}, CheckpointMeta(model_kind="sem-cnn"))
    with pytest.raises(SegInputError, match="not a building segmenter"):
        seg.load_segmenter(tmp_path / "other")


def test_loss_is_the_mean_over_labelled_pixels_and_zero_without_any():
    import torch
    from torch.nn import functional as F

    torch.manual_seed(0)
    logits = torch.randn(2, 2, 5, 5, requires_grad=True)
    labels = torch.randint(0, 2, (2, 5, 5))
    labels[0, :2] = seg.IGNORE
    expected = F.cross_entropy(logits, labels, ignore_index=seg.IGNORE)
    assert torch.allclose(seg.segmentation_loss(logits, labels), expected)
    # a batch of padding only (a crop beyond a small image): no signal, and not NaN
    padding = torch.full((2, 5, 5), seg.IGNORE)
    assert torch.isnan(F.cross_entropy(logits, padding, ignore_index=seg.IGNORE))
    loss = seg.segmentation_loss(logits, padding)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(logits.grad == 0)
