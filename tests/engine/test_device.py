"""Device choice and its labels (studio.engine.device)."""
import pytest
import torch

from studio.engine.device import (
    DeviceUnavailable,
    describe_device,
    gui_friendly_thread_count,
    resolve_device,
)


def test_cpu_label_counts_threads_in_words():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert describe_device("cpu") == "cpu (1 thread)"
        torch.set_num_threads(2)
        assert describe_device("cpu") == "cpu (2 threads)"
    finally:
        torch.set_num_threads(before)


def test_resolve_device_names_the_problem():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "mps") or resolve_device("auto").startswith("cuda:")
    with pytest.raises(DeviceUnavailable, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable, match="not available on this machine"):
            resolve_device("cuda:3")


def test_gui_keeps_one_core():
    assert gui_friendly_thread_count(1) == 1 and gui_friendly_thread_count(2) == 1 and gui_friendly_thread_count(16) == 15
