import math

import pytest
import torch
from torch.utils.data import TensorDataset

from studio.engine import JobPool
from studio.engine.selfcheck import make_spirals
from studio.engine.training import OPTIMIZERS, FitConfig, fit, lr_factor, make_optimizer


class Ctx:
    """A minimal stand-in for JobContext (no pool): collects metrics."""

    def __init__(self):
        self.device = torch.device("cpu")
        self.metrics = []
        self.run = None
        self.cancel_after = None

    def progress(self, *a):
        pass

    def metric(self, name, value, step, epoch=None):
        self.metrics.append((name, step, value))

    def log(self, text):
        pass

    def check(self):
        if self.cancel_after is not None and len(self.metrics) >= self.cancel_after:
            from studio.engine import Cancelled

            raise Cancelled()


def data(seed=0):
    x, y = make_spirals(400, 0.1, seed)
    return TensorDataset(x, y)


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))


def ce(m, batch):
    return torch.nn.functional.cross_entropy(m(batch[0]), batch[1])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(name):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=g)
    y = x @ torch.randn(8, 1, generator=g) + 0.05 * torch.randn(512, 1, generator=g)
    lr = {"sgd": 0.05, "momentum": 0.01, "adagrad": 0.1, "rmsprop": 0.01, "adam": 0.02}[name]
    torch.manual_seed(0)
    res = fit(Ctx(), torch.nn.Linear(8, 1), TensorDataset(x, y),
              FitConfig(optimizer=name, lr=lr, epochs=10, batch_size=32),
              loss_fn=lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]))
    losses = res.history["train/epoch_loss"]
    assert losses[-1] < 0.1 * losses[0], losses


def test_paper_001_defaults():
    p = [torch.nn.Parameter(torch.zeros(1))]
    cfg = FitConfig()
    adam = make_optimizer("adam", p, cfg)
    assert adam.defaults["betas"] == (0.9, 0.999) and adam.defaults["eps"] == 1e-8
    assert make_optimizer("momentum", p, cfg).defaults["momentum"] == 0.9
    assert make_optimizer("sgd", p, cfg).defaults["momentum"] == 0.0
    assert make_optimizer("adam", p, FitConfig(weight_decay=1e-4)).defaults["weight_decay"] == 1e-4


def test_schedules():
    cfg = FitConfig(step_size=2, step_gamma=0.5)
    assert lr_factor("constant", 7, 10, cfg) == 1.0
    assert [lr_factor("step", t, 10, cfg) for t in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert lr_factor("cosine", 0, 10, cfg) == 1.0 and lr_factor("cosine", 10, 10, cfg) == pytest.approx(0.0)
    assert lr_factor("cosine", 5, 10, cfg) == pytest.approx(0.5)
    assert lr_factor("poly", 5, 10, cfg) == pytest.approx(0.5**0.9)


def test_poly_schedule_is_applied_per_iteration():
    ctx = Ctx()
    fit(ctx, model(), data(), FitConfig(optimizer="sgd", lr=0.1, schedule="poly", iterations=20, batch_size=32),
        loss_fn=ce)
    lrs = [v for n, s, v in ctx.metrics if n == "lr"]
    assert len(lrs) == 20 and lrs[0] == pytest.approx(0.1)
    assert lrs[10] == pytest.approx(0.1 * (1 - 10 / 20) ** 0.9)


def test_iterations_mode_runs_exactly_that_many_steps_and_validates():
    ctx = Ctx()
    res = fit(ctx, model(), data(), FitConfig(iterations=30, batch_size=32, val_every=10), loss_fn=ce,
              val_data=data(1))
    assert res.steps == 30
    assert [s for n, s, v in ctx.metrics if n == "val/loss"] == [10, 20, 30]


def test_seeded_runs_are_deterministic_on_cpu():
    a, b = Ctx(), Ctx()
    cfg = FitConfig(epochs=2, batch_size=16, seed=3)
    fit(a, model(), data(), cfg, loss_fn=ce)
    fit(b, model(), data(), cfg, loss_fn=ce)
    assert a.metrics == b.metrics
    c = Ctx()
    fit(c, model(), data(), FitConfig(epochs=2, batch_size=16, seed=4), loss_fn=ce)
    assert c.metrics != a.metrics


def test_early_stopping():
    ctx = Ctx()
    calls = []

    def flat_validation(m, loader):
        calls.append(1)
        return {"loss": 1.0}

    res = fit(ctx, model(), data(), FitConfig(epochs=50, batch_size=64, early_stopping_patience=3), loss_fn=ce,
              val_data=data(1), validate=flat_validation)
    assert res.stopped_early and len(calls) == 4 and res.best_epoch == 1


def test_checkpoint_callback_each_validation():
    seen = []
    fit(Ctx(), model(), data(), FitConfig(epochs=3, batch_size=64), loss_fn=ce, val_data=data(1),
        on_checkpoint=lambda m, info: seen.append(info["epoch"]))
    assert seen == [1.0, 2.0, 3.0]


def test_bad_config_and_diverging_loss_give_clear_messages():
    with pytest.raises(ValueError, match="unknown optimizer"):
        fit(Ctx(), model(), data(), FitConfig(optimizer="lbfgs"), loss_fn=ce)
    with pytest.raises(ValueError, match="epochs or of iterations"):
        fit(Ctx(), model(), data(), FitConfig(epochs=None, iterations=None), loss_fn=ce)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(Ctx(), model(), data(), FitConfig(epochs=1), loss_fn=lambda m, b: ce(m, b) * math.inf)


def test_mixed_precision_is_ignored_on_cpu():
    res = fit(Ctx(), model(), data(), FitConfig(epochs=1, amp=True), loss_fn=ce)
    assert res.steps > 0


def test_cpu_threads_leave_one_core_to_the_gui():
    from studio.engine.device import gui_friendly_thread_count

    assert gui_friendly_thread_count(2) == 1 and gui_friendly_thread_count(16) == 15
    assert gui_friendly_thread_count(1) == 1
    pool = JobPool()
    job = pool.run(lambda ctx, cfg: torch.get_num_threads())
    import os

    assert job.result == max(1, (os.cpu_count() or 1) - 1)


def test_batchnorm_recalibration_matches_the_data_scale():
    from studio.engine.training import recalibrate_batchnorm

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8))
    torch.nn.init.normal_(net[0].weight, std=0.01)  # paper 004's init: tiny activations
    x = torch.randn(256, 4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(256)), batch_size=32)
    assert torch.allclose(net[1].running_var, torch.ones(8))  # PyTorch's starting point, far from the data
    used = recalibrate_batchnorm(net, loader, max_batches=100)
    assert used == 8 and net[1].momentum == 0.1  # momentum restored
    with torch.no_grad():
        h = net[0](x)
    assert torch.allclose(net[1].running_mean, h.mean(0), atol=1e-6)
    assert torch.allclose(net[1].running_var, h.var(0), rtol=0.05)
    assert recalibrate_batchnorm(torch.nn.Linear(2, 2), loader) == 0


class NoisyData(torch.utils.data.Dataset):
    """Spirals with an augmentation drawn from torch's global generator, as the SEM patches' flips and shifts are."""

    def __init__(self):
        self.x, self.y = data().tensors

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] + 0.05 * torch.randn(2), self.y[i]


def test_how_often_a_run_validates_does_not_change_the_trained_model():
    """Batch-norm recalibration before each validation draws batches (shuffle and augmentation); it must leave the
    random streams of the training as it found them, so validating every step or every 7th gives the same model."""
    def run(val_every):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 2))
        cfg = FitConfig(optimizer="momentum", lr=0.05, iterations=21, val_every=val_every, batch_size=32,
                        recalibrate_bn=True)
        fit(Ctx(), net, NoisyData(), cfg, loss_fn=ce, val_data=data(1))
        return net

    often, seldom = run(1), run(7)
    for a, b in zip(often.state_dict().values(), seldom.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_weight_averaging_ends_with_the_mean_of_the_late_iterates():
    """average_from=0.5 over 10 iterations: the final weights are the mean of iterates 6..10 of the same run,
    and the batch-norm statistics are recomputed for them (validated and checkpointed after the swap)."""
    def run(average_from):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 2))
        iterates, saved = [], []

        def on_checkpoint(m, info):
            saved.append((info["step"], {k: v.clone() for k, v in m.state_dict().items()}))
            iterates.append([q.detach().clone() for q in m.parameters()])

        cfg = FitConfig(optimizer="momentum", lr=0.05, iterations=10, val_every=1, batch_size=40,
                        average_from=average_from)
        res = fit(Ctx(), net, data(), cfg, loss_fn=ce, val_data=data(1), on_checkpoint=on_checkpoint)
        return net, iterates, saved, res

    plain, iterates, _, _ = run(None)
    averaged, _, saved, res = run(0.5)
    mean = [torch.stack([it[i] for it in iterates[5:10]]).mean(0) for i in range(len(iterates[0]))]
    for q, want in zip(averaged.parameters(), mean):
        torch.testing.assert_close(q.detach(), want, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(next(averaged.parameters()), next(plain.parameters()))  # not the last iterate
    assert saved[-1][0] == 10 and len(saved) == 11  # one more validation/checkpoint: the averaged model's
    assert torch.equal(saved[-1][1]["0.weight"], averaged[0].weight.detach())
    x = data().tensors[0]
    with torch.no_grad():  # running statistics of the averaged first layer (all 400 points: 10 equal batches)
        h = averaged[0](x)
    torch.testing.assert_close(averaged[1].running_mean, h.mean(0), rtol=1e-4, atol=1e-5)
    assert "val/loss" in res.metrics
    with pytest.raises(ValueError, match="average_from"):
        FitConfig(average_from=1.0).validate()
