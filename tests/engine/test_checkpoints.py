import pickle

import pytest
import torch

from studio.engine.checkpoints import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint


def test_round_trip(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    meta = CheckpointMeta("demo", {"hidden": 4}, ["a", "b"], {"mean": [0.1, 0.2, 0.3]})
    weights = save_checkpoint(tmp_path / "model", model.state_dict(), meta)
    assert weights.name == "model.safetensors" and (tmp_path / "model.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    tensors, got = load_checkpoint(tmp_path / "model")
    clone = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    clone.load_state_dict(tensors)
    for a, b in zip(model.state_dict().values(), clone.state_dict().values()):
        assert torch.equal(a, b)
    assert got.class_names == ["a", "b"] and got.hyperparameters == {"hidden": 4}
    assert got.normalisation["mean"] == [0.1, 0.2, 0.3]
    assert got.versions["torch"] == torch.__version__


def test_tied_weights_are_saved(tmp_path):
    lin = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path / "tied", {"a": lin.weight, "b": lin.weight}, CheckpointMeta("t"))
    tensors, _ = load_checkpoint(tmp_path / "tied")
    assert torch.equal(tensors["a"], tensors["b"])


class _Evil:
    def __reduce__(self):
        return (exec, ("open('PWNED','w').write('x')",))


def test_loading_never_unpickles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.safetensors").write_bytes(pickle.dumps(_Evil()))
    (tmp_path / "bad.json").write_text('{"model_kind": "x"}')
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_checkpoint(tmp_path / "bad")
    assert not (tmp_path / "PWNED").exists()


def test_missing_and_broken_sidecar(tmp_path):
    save_checkpoint(tmp_path / "m", {"w": torch.zeros(2)}, CheckpointMeta("k"))
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="m.json"):
        load_checkpoint(tmp_path / "m")
    (tmp_path / "m.json").unlink()
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "m")


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    import safetensors.torch

    save_checkpoint(tmp_path / "m", {"w": torch.ones(3)}, CheckpointMeta("k"))

    def crash_midway(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "m", {"w": torch.zeros(3)}, CheckpointMeta("k"))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    tensors, _ = load_checkpoint(tmp_path / "m")
    assert torch.equal(tensors["w"], torch.ones(3))
