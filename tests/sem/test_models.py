"""The CNN against the paper's Table 2 (layer sizes, parameter count) and Table 3 (ablation)."""
import pytest
import torch
from torch import nn

from studio.sem.models import FILTERS, MODEL_KIND, SemCNN, build_model, count_parameters

# Table 2, row "Output (O)", as (channels, height, width); FC outputs are vectors.
TABLE2_OUTPUTS = {
    "conv1": (16, 128, 128), "pool1": (16, 64, 64),
    "conv2": (32, 64, 64), "pool2": (32, 32, 32),
    "conv3": (64, 32, 32), "pool3": (64, 16, 16),
    "conv4": (96, 16, 16), "pool4": (96, 8, 8),
    "conv5": (128, 8, 8), "pool5": (128, 4, 4),
    "fc1": (40,), "fc2": (2,),
}


def _output_shapes(model, x):
    shapes = {}
    hooks = []
    for name, mod in list(model.features.named_children()) + list(model.classifier.named_children()):
        hooks.append(mod.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))))
    model(x)
    for h in hooks:
        h.remove()
    return shapes


def test_layer_outputs_match_table2():
    model = SemCNN()
    shapes = _output_shapes(model, torch.zeros(2, 1, 128, 128))
    for name, want in TABLE2_OUTPUTS.items():
        assert shapes[name] == want, name
    # Table 2, row "Input (I)" of FC1: 2048 x 1 = 128 maps of 4 x 4
    assert model.n_flat == 2048


def test_parameter_count_by_hand():
    # computed from Table 2: conv k*k*c_in*c_out + c_out, batch norm 2*c_out (gamma, beta),
    # FC n_in*n_out + n_out
    conv = (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 32 + 32) + (3 * 3 * 32 * 64 + 64) \
        + (3 * 3 * 64 * 96 + 96) + (3 * 3 * 96 * 128 + 128)
    bn = 2 * (16 + 32 + 64 + 96 + 128)
    fc = (2048 * 40 + 40) + (40 * 2 + 2)
    assert (conv, bn, fc) == (189_408, 672, 82_042)
    assert count_parameters(SemCNN()) == conv + bn + fc == 272_122


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("fc40", [False, True])
def test_table3_ablation(depth, fc40):
    model = SemCNN(depth=depth, fc40=fc40)
    side = 128 // 2**depth
    assert model.n_flat == FILTERS[depth - 1] * side * side
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == depth
    assert len(linears) == (2 if fc40 else 1)
    assert model(torch.zeros(3, 1, 128, 128)).shape == (3, 2)


def test_initialisation():
    torch.manual_seed(0)
    model = SemCNN()
    w = model.features.conv5.weight.detach()  # 110,592 draws
    assert abs(float(w.mean())) < 1e-3
    assert float(w.std()) == pytest.approx(0.01, rel=0.03)
    assert float(model.classifier.fc1.weight.detach().std()) == pytest.approx(0.01, rel=0.03)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert torch.count_nonzero(m.bias) == 0
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_predict_proba_and_mode():
    model = SemCNN(n_classes=3)
    model.train()
    p = model.predict_proba(torch.rand(4, 1, 128, 128))
    assert p.shape == (4, 3)
    assert torch.allclose(p.sum(1), torch.ones(4))
    assert model.training  # restored


def test_build_model_round_trip():
    assert MODEL_KIND == "sem-cnn"
    model = build_model({"depth": 3, "fc40": False, "n_classes": 4, "lr": 0.001})
    assert isinstance(model, SemCNN)
    assert (model.depth, model.fc40, model.n_classes) == (3, False, 4)
    again = build_model(model.hparams)
    assert again.hparams == model.hparams
    again.load_state_dict(model.state_dict())
    assert count_parameters(build_model({})) == 272_122
    with pytest.raises(ValueError):
        build_model({"depth": 6})
