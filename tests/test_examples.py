"""examples/: the SEC training step runs on the CPU and its loss goes down."""

import importlib.util
import pathlib

import pytest

pytest.importorskip("torch")
EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sec_training_step_loss_goes_down():
    losses = load("sec_training_step").train(steps=12)
    assert all(v == v for v in losses)  # no NaN
    assert losses[-1] < 0.6 * losses[0]
    assert min(losses[-3:]) < min(losses[:3])
