"""Noise generators, exact-SNR mixing, the paper's mel features."""
import numpy as np
import pytest
import torch

from studio.audio import features as F
from studio.audio import noise as N


@pytest.mark.parametrize("kind", N.NOISE_TYPES)
def test_noise_kinds_are_seeded_unit_rms(kind):
    a = N.make_noise(kind, 16000, seed=1)
    assert a.dtype == np.float32 and a.shape == (16000,) and np.isfinite(a).all()
    assert abs(np.sqrt(np.mean(a.astype(np.float64) ** 2)) - 1) < 1e-4
    np.testing.assert_array_equal(a, N.make_noise(kind, 16000, seed=1))
    assert not np.array_equal(a, N.make_noise(kind, 16000, seed=2))


def test_noise_colours_have_their_spectral_slopes():
    def slope(x):  # power in 250-500 Hz over 2-4 kHz, per Hz
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / 16000)
        return p[(f > 250) & (f < 500)].mean() / p[(f > 2000) & (f < 4000)].mean()

    white, pink, brown = (slope(N.make_noise(k, 64000)) for k in ("white", "pink", "brown"))
    assert 0.8 < white < 1.25 and 5 < pink < 12 and 40 < brown < 120  # ratios ≈ 1, 8, 64 for 3 octaves


@pytest.mark.parametrize("snr", [20, 15, 10, 5, 0, -5])
@pytest.mark.parametrize("kind", ["pink", "babble", "factory"])
def test_mix_gives_the_requested_snr_within_0_1_db(snr, kind):
    rng = np.random.default_rng(snr + 100)
    clean = (0.3 * rng.standard_normal(20000) * np.hanning(20000)).astype(np.float32)
    noise = N.make_noise(kind, 64000, seed=3) * 7.0
    mixed = N.mix_at_snr(clean, noise, snr)
    assert mixed.dtype == np.float32 and mixed.shape == clean.shape
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((mixed - clean).astype(np.float64) ** 2))
    assert abs(measured - snr) < 0.1


def test_mix_short_noise_repeats_and_silence_is_handled():
    clean = np.ones(1000, np.float32)
    mixed = N.mix_at_snr(clean, np.array([1.0, -1.0], np.float32), 0.0)
    assert abs(N.snr_db(clean, mixed - clean)) < 1e-4
    silent = N.mix_at_snr(np.zeros(500, np.float32), N.make_noise("white", 500), 5)
    assert not silent.any() and np.isfinite(silent).all()
    with pytest.raises(ValueError, match="silent"):
        N.mix_at_snr(clean, np.zeros(10, np.float32), 5)


def test_user_noise_file(tmp_path):
    import soundfile as sf

    from studio.audio.io import AudioInputError

    sf.write(tmp_path / "n.wav", N.make_noise("pink", 8000) * 0.1, 8000)
    x = N.load_noise(tmp_path / "n.wav")
    assert x.dtype == np.float32 and x.size == 16000
    sf.write(tmp_path / "zero.wav", np.zeros(800), 8000)
    with pytest.raises(AudioInputError, match="zero.wav.*silent"):
        N.load_noise(tmp_path / "zero.wav")


def test_feature_shapes_and_range():
    x = torch.randn(3, 64000) * 0.1
    m = F.mel_features(x)
    assert m.shape == (3, F.N_MELS, 249) == (3, 40, F.N_FRAMES) and m.dtype == torch.float32
    for clip in m:
        assert clip.min().item() == 0.0 and abs(clip.max().item() - 1.0) < 1e-6
    one = F.mel_features(x[1].numpy())
    assert one.shape == (1, 40, 249)
    torch.testing.assert_close(one[0], m[1], atol=1e-5, rtol=0)
    assert F.mel_features(torch.randn(2, 16000)).shape == (2, 40, 1 + (16000 - 512) // 256)


def test_silent_clip_gives_zeros_not_nan():
    m = F.mel_features(torch.zeros(2, 64000))
    assert not torch.isnan(m).any() and not m.any()
    loud_and_silent = torch.stack([torch.randn(64000), torch.zeros(64000)])
    m = F.mel_features(loud_and_silent)
    assert m[0].max() == 1 and not m[1].any()


def test_mel_features_follow_a_tone():
    t = torch.arange(64000) / 16000
    low, high = (F.mel_features(torch.sin(2 * np.pi * f * t))[0].mean(1).argmax().item() for f in (300.0, 4000.0))
    assert low < 10 < 25 < high


def test_filterbank_is_slaney_and_covers_the_band():
    fb = F.mel_filterbank()
    assert fb.shape == (40, 257) and (fb >= 0).all()
    assert (fb.sum(0)[2:-2] > 0).all()  # every bin inside the band belongs to some filter
    centres = fb.argmax(1)
    assert (np.diff(centres) >= 0).all()
