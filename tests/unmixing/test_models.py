"""MomentNet (paper 000, Fig. 2) and UnmixingCNN1D (section 4.3): layout, shapes, output ranges."""
import pytest
import torch
from torch import nn

from studio.unmixing.models import MomentNet, UnmixingCNN1D, count_parameters


def test_moment_net_layout_is_four_blocks_of_linear_bn_relu_then_logistic():
    net = MomentNet(in_features=6)  # N_k of a 4-material set: a (4) + λ'1 + λ'2
    layers = list(net.body)
    assert len(layers) == 12
    for b in range(4):
        lin, bn, act = layers[3 * b: 3 * b + 3]
        assert isinstance(lin, nn.Linear) and lin.out_features == 32
        assert lin.in_features == (6 if b == 0 else 32)
        assert isinstance(bn, nn.BatchNorm1d) and bn.num_features == 32
        assert isinstance(act, nn.ReLU)
    assert isinstance(net.head, nn.Linear) and (net.head.in_features, net.head.out_features) == (32, 1)
    # by hand: 6·32+32 + 3·(32·32+32) + 4·(2·32) BN + 32+1
    assert count_parameters(net) == (6 * 32 + 32) + 3 * (32 * 32 + 32) + 4 * 64 + 33


def test_moment_net_output_is_logistic_of_logits():
    net = MomentNet(5).eval()
    x = torch.randn(7, 5) * 10
    out = net(x)
    assert out.shape == (7,)
    assert torch.all((out > 0) & (out < 1))
    assert torch.allclose(out, torch.sigmoid(net.logits(x)))


@pytest.mark.parametrize("bands,materials", [(91, 4), (91, 3), (20, 2)])
def test_cnn_shapes_and_simplex_output(bands, materials):
    net = UnmixingCNN1D(bands, materials)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv1d)]
    assert [c.out_channels for c in convs] == [16, 32, 64] and all(c.kernel_size == (3,) for c in convs)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [64, materials]
    assert net.n_flat == 64 * (bands - 6)
    a = net(torch.randn(5, bands) * 3)
    assert a.shape == (5, materials)
    assert torch.all(a >= 0)
    assert torch.allclose(a.sum(1), torch.ones(5), atol=1e-6)


def test_cnn_rebuilds_from_hparams_and_rejects_too_few_bands():
    net = UnmixingCNN1D(30, 3)
    again = UnmixingCNN1D.from_hparams(net.hparams)
    again.load_state_dict(net.state_dict())
    x = torch.randn(2, 30)
    assert torch.allclose(net(x), again(x))
    with pytest.raises(ValueError, match="too few"):
        UnmixingCNN1D(6, 3)
