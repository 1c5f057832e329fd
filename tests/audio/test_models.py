"""Paper-003 networks: shapes, layer sizes of section 4, the dynamic filter layer against a per-sample loop."""
import pytest
import torch
from torch.nn import functional as F

from studio.audio import models as M


def feats(b=3, seed=0):
    return torch.rand(b, 40, 249, generator=torch.Generator().manual_seed(seed))


def test_cnn_fc_layers_and_logits():
    net = M.build_model("cnn")
    assert [c.out_channels for c in net.convs] == [12, 36, 72, 96, 96]
    assert net.fc.in_features == 96 * 4 * 13  # 40×249 → 19×124 → 9×41 → 4×13
    assert net(feats()).shape == (3, 10) and net(feats().unsqueeze(1)).shape == (3, 10)


def test_paper_sizes_of_generator_and_dynamic_layer():
    dfe = M.build_model("dfe")
    convs = [m for m in dfe.generator.body if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [12, 72, 256] and [c.dilation[0] for c in convs] == [6, 4, 1]
    assert dfe.dynamic.channels == (24, 96, 96, 96, 1) and dfe.dynamic.dilations == (1, 2, 4, 8, 1)
    heads = dfe.heads
    assert len(heads.weight_heads) + len(heads.norm_heads) == 10  # FC1–FC10
    assert [h.out_features for h in heads.weight_heads] == [24 * 9, 96 * 24 * 9, 96 * 96 * 9, 96 * 96 * 9, 96 * 9]
    assert [h.out_features for h in heads.norm_heads] == [48, 192, 192, 192, 2]
    assert all(h.in_features == 256 for h in heads.weight_heads)


@pytest.mark.parametrize("kind", M.ENHANCER_KINDS)
def test_enhancers_return_masked_features(kind):
    net = M.build_model(kind, width=0.25).eval()
    x = feats()
    enhanced, mask = net(x)
    assert enhanced.shape == mask.shape == x.shape
    assert (mask >= 0).all() and (mask <= 1).all()
    torch.testing.assert_close(enhanced, x * mask)  # eq. 3 (two-stage: x ⊙ m1 ⊙ m2)


def test_dynamic_filters_differ_per_input_and_match_a_per_sample_loop():
    torch.manual_seed(0)
    dfe = M.build_model("dfe", width=0.25).eval()
    x = feats(4).unsqueeze(1)
    x[1] = x[1] ** 3  # a different kind of input
    with torch.no_grad():
        weights, scales, biases = dfe.filters(x)
        assert weights[1].shape == (4, 24, 6, 3, 3)
        for w in weights:
            assert not torch.allclose(w[0], w[1], atol=1e-4)  # different inputs, different filters
        mask = dfe.dynamic(x, weights, scales, biases)
        # reference: one ordinary convolution per sample, in a Python loop
        ref = []
        for b in range(x.shape[0]):
            h = x[b:b + 1]
            for i, d in enumerate(dfe.dynamic.dilations):
                h = F.conv2d(h, weights[i][b], padding=d, dilation=d)
                mu = h.mean()
                var = h.var(unbiased=False)
                h = (h - mu) / torch.sqrt(var + 1e-5) * scales[i][b][None, :, None, None] \
                    + biases[i][b][None, :, None, None]
                h = torch.sigmoid(h) if i == 4 else torch.relu(h)
            ref.append(h)
        torch.testing.assert_close(mask, torch.cat(ref), atol=2e-5, rtol=1e-4)
        # and the batch does not mix samples: sample 0 alone gives the same mask
        torch.testing.assert_close(dfe(x[:1])[1], mask[:1], atol=2e-5, rtol=1e-4)


def test_batched_conv_uses_each_samples_own_filter():
    x = torch.randn(2, 3, 8, 9)
    w = torch.randn(2, 5, 3, 3, 3)
    y = M.batched_conv2d(x, w, dilation=2)
    for b in range(2):
        torch.testing.assert_close(y[b:b + 1], F.conv2d(x[b:b + 1], w[b], padding=2, dilation=2))


def test_dsl_shares_one_generator_dcl_has_two():
    dsl, dcl, dfe = (M.build_model(k, width=0.25) for k in ("dsl", "dcl", "dfe"))
    assert dsl.stage2 is dsl.stage1 and M.count_parameters(dsl) == M.count_parameters(dfe)
    assert dcl.stage2 is not dcl.stage1 and M.count_parameters(dcl) == 2 * M.count_parameters(dfe)


def test_enhanced_classifier_keeps_the_classifier_frozen_and_in_eval():
    net = M.EnhancedClassifier(M.build_model("sfe", width=0.25), M.build_model("cnn", width=0.5))
    net.train()
    assert not net.classifier.training and net.enhancer.training
    assert all(not p.requires_grad for p in net.classifier.parameters())
    net(feats(2)).sum().backward()
    assert all(p.grad is None for p in net.classifier.parameters())
    assert any(p.grad is not None for p in net.enhancer.parameters())
