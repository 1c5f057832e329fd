"""Sliding-window inference: equal to untiled inference, any image size, bounded batches."""
import numpy as np
import pytest
import torch

from studio.segmentation.models import build_model
from studio.segmentation.tiling import NETWORK_STRIDE, predict_tiled, prepare_input, tile_windows

TINY = dict(widths=(4, 8, 8, 16, 16), encoder_blocks=(1, 0, 0, 0, 1), decoder_blocks=(0, 0, 0, 1))


def tiny_model():
    torch.manual_seed(0)
    model = build_model("alpha0.5", bn_init="constant", **TINY).eval()
    with torch.no_grad():
        model.head.weight.mul_(100)  # steep logits: probabilities spread over (0, 1)
    return model


def untiled(model, image):
    with torch.no_grad():
        x = torch.from_numpy(prepare_input(image, [0] * 3, [255] * 3, [0.5] * 3, [0.25] * 3))
        return torch.softmax(model(x), 1)[0, 1].numpy()


def test_tiled_equals_untiled_for_a_size_not_a_multiple_of_the_tile():
    image = np.random.default_rng(1).integers(0, 256, (203, 270, 3), dtype=np.uint8)
    model = tiny_model()
    full = untiled(model, image)
    assert full.std() > 0.15  # a meaningful comparison, not a constant map
    tiled = predict_tiled(model, image, tile=96, overlap=48, batch=3,
                          normalisation={"mean": [0.5] * 3, "std": [0.25] * 3})
    assert tiled.shape == (203, 270) and tiled.dtype == np.float32
    diff = np.abs(tiled - full)
    assert diff.mean() < 1e-3 and diff.max() < 0.02
    assert np.mean((tiled >= 0.5) == (full >= 0.5)) > 0.999


def test_image_smaller_than_a_tile_and_single_band():
    model = tiny_model()
    small = np.random.default_rng(2).integers(0, 256, (37, 23, 3), dtype=np.uint8)
    prob = predict_tiled(model, small, tile=250, normalisation={"mean": [0.5] * 3, "std": [0.25] * 3})
    assert prob.shape == (37, 23)
    np.testing.assert_allclose(prob, untiled(model, small), atol=1e-5)
    gray16 = np.random.default_rng(3).integers(0, 4000, (40, 300), dtype=np.uint16)
    prob = predict_tiled(model, gray16, tile=128, overlap=32)
    assert prob.shape == (40, 300) and np.isfinite(prob).all() and (0 <= prob).all() and (prob <= 1).all()


def test_windows_cover_the_image_on_the_stride_grid():
    for length in (1, 15, 100, 250, 251, 500, 1500, 10_000):
        windows = tile_windows(length, 250, 32)
        assert windows[0][0] == 0 and windows[-1][1] == length
        assert all(s % NETWORK_STRIDE == 0 for s, _ in windows)
        assert all(e - s <= 250 + NETWORK_STRIDE - 1 for s, e in windows)
        assert all(b[0] <= a[1] - 32 for a, b in zip(windows, windows[1:]))  # overlap ≥ 32


def test_batches_hold_a_few_windows_only_and_cancel_works():
    shapes = []

    class Recorder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            shapes.append(tuple(x.shape))
            return self.inner(x)

    model = Recorder(tiny_model())
    image = np.zeros((150, 230, 3), np.uint8)
    progress = []
    predict_tiled(model, image, tile=64, overlap=32, batch=4, progress=lambda d, t: progress.append((d, t)))
    assert all(s[0] <= 4 and s[2] <= 64 + 15 and s[3] <= 64 + 15 for s in shapes)
    assert progress[-1][0] == progress[-1][1] == len(tile_windows(150, 64, 32)) * len(tile_windows(230, 64, 32))

    class Stop(Exception):
        pass

    def check():
        if len(shapes) > 2:
            raise Stop

    with pytest.raises(Stop):
        predict_tiled(model, image, tile=64, overlap=32, batch=1, check=check)
