"""Residual U-Net and the weight mechanism (paper 002, Fig. 2, eqs. 4–10, Table I)."""
import pytest
import torch

from studio.segmentation.models import VARIANTS, SkipFusion, build_model, count_parameters, model_complexity

TINY = dict(widths=(4, 8, 8, 16, 16), encoder_blocks=(1, 0, 0, 0, 1), decoder_blocks=(0, 0, 0, 1))


def capture_fusions(model, x):
    """Run the model and record every skip concatenation: (series inputs, parallel input, output)."""
    seen = []

    def hook(module, args, output):
        series, parallel = args
        seen.append((list(series), parallel, output))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, SkipFusion)]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def scale_of(scaled, original):
    """The constant c with scaled == c * original (fails if there is none)."""
    mask = original.abs() > 1e-4
    ratio = (scaled[mask] / original[mask]).detach()
    assert torch.allclose(ratio, ratio.mean().expand_as(ratio), atol=1e-4), "not a constant scaling"
    return float(ratio.mean())


def computed_from(y, x) -> bool:
    """True when tensor y depends on tensor x through the autograd graph."""
    (g,) = torch.autograd.grad(y.sum(), x, retain_graph=True, allow_unused=True)
    return g is not None and bool(g.abs().sum() > 0)


@pytest.mark.parametrize("variant", ["baseline", "alpha0.1", "alpha0.5", "beta0.1"])
def test_alpha_scales_the_series_feature_and_beta_the_other(variant):
    torch.manual_seed(0)
    alphas, betas = [0.1, 0.2, 0.3, 0.4], [0.9, 0.8, 0.7, 0.6]
    model = build_model(variant, alphas=None if variant != "baseline" else alphas,
                        betas=None if variant != "baseline" else betas, bn_init="constant", **TINY).train()
    expected_a = {"baseline": alphas, "alpha0.1": [0.1] * 4, "alpha0.5": [0.5] * 4, "beta0.1": [1.0] * 4}[variant]
    expected_b = {"baseline": betas, "alpha0.1": [1.0] * 4, "alpha0.5": [1.0] * 4, "beta0.1": [0.1] * 4}[variant]
    fusions = capture_fusions(model, torch.randn(2, 3, 45, 61))
    assert len(fusions) == 4
    levels = sorted(fusions, key=lambda f: -f[0][0].shape[-1])  # full resolution first (α_1)
    for i, (series, parallel, out) in enumerate(levels):
        x1 = series[0]
        c1 = x1.shape[1]
        # the scaled X1 is the one X2 is computed from: a series connection (Fig. 1(a))
        assert computed_from(parallel, x1)
        assert not computed_from(x1, parallel)
        assert scale_of(out[:, :c1], x1) == pytest.approx(expected_a[i], abs=1e-4)
        assert scale_of(out[:, c1:], parallel) == pytest.approx(expected_b[i], abs=1e-4)


def test_a_swapped_implementation_would_be_caught():
    """Sanity of the check above: α on the decoder input instead would give a different scale."""
    torch.manual_seed(0)
    model = build_model("alpha0.1", bn_init="constant", **TINY)
    for f in model.modules():
        if isinstance(f, SkipFusion):
            f.alpha.fill_(1.0)
            f.beta.fill_(0.1)
    series, parallel, out = capture_fusions(model, torch.randn(1, 3, 32, 32))[0]
    assert scale_of(out[:, :series[0].shape[1]], series[0]) != pytest.approx(0.1)


def test_fused_weights_every_series_feature():
    torch.manual_seed(0)
    model = build_model("fused", bn_init="constant", **TINY)
    fusions = capture_fusions(model, torch.randn(1, 3, 40, 40))
    assert sorted(len(s) for s, _, _ in fusions) == [2, 2, 3, 3]
    for series, parallel, out in fusions:
        assert computed_from(parallel, series[0])  # the same-level encoder feature; the others are resampled copies
        start = 0
        for x in series:
            assert scale_of(out[:, start:start + x.shape[1]], x) == pytest.approx(0.5, abs=1e-4)
            start += x.shape[1]


def test_baseline_size_close_to_table_one():
    params = sum(p.numel() for p in build_model("baseline").parameters())
    assert params == 5_096_226
    assert abs(params - 5.11e6) / 5.11e6 < 0.01


def test_variant_parameter_deltas_like_table_one():
    base = count_parameters(build_model("baseline", **TINY))
    assert count_parameters(build_model("alpha0.5", **TINY)) == base + 4
    assert count_parameters(build_model("beta0.1", **TINY)) == base + 4
    dyn = count_parameters(build_model("dynamic", **TINY))
    assert dyn == base + sum(TINY["widths"][:4])  # one weight per skip channel (Table I: +480)
    assert count_parameters(build_model("gating", **TINY)) > dyn


def test_complexity_counts_flops_of_the_gates():
    base = model_complexity(build_model("baseline", **TINY), 32)
    gating = model_complexity(build_model("gating", **TINY), 32)
    assert gating[0] > base[0] and gating[1] > base[1] > 0


def test_full_size_dynamic_adds_480():
    base = sum(p.numel() for p in build_model("baseline").parameters())
    assert sum(p.numel() for p in build_model("dynamic").parameters()) - base == 480


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_keeps_any_input_size(variant):
    model = build_model(variant, **TINY).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 37, 53)).shape == (1, 2, 37, 53)


def test_batchnorm_initialisations():
    torch.manual_seed(0)
    normal = torch.cat([m.weight.detach() for m in build_model("baseline", **TINY).modules()
                        if isinstance(m, torch.nn.BatchNorm2d)])
    assert normal.min() < 0 < normal.max() and 0.7 < float(normal.std()) < 1.3
    const = torch.cat([m.weight.detach() for m in build_model("baseline", bn_init="constant", **TINY).modules()
                       if isinstance(m, torch.nn.BatchNorm2d)])
    assert torch.all(const == 1)
    with pytest.raises(ValueError):
        build_model("baseline", bn_init="uniform", **TINY)
    with pytest.raises(ValueError):
        build_model("alpha0.3")
    with pytest.raises(ValueError):
        build_model("baseline", alphas=[0.5, 0.5], **TINY)
