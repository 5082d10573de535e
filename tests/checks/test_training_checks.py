"""The training judge (exercise 7), fed outcomes fabricated in this process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.checks import status
from grader.checks import training as tr
from grader.checks.compare import fmt
from grader.engine import clipping, layers
from grader.engine.activations import ACTIVATIONS
from grader.engine.training import sgd_train
from grader.sandbox.run import CallOutcome, TaskOutcome

from conftest import run_in_process

CHECK = tr.CHECKS["sgd_train"]


def _cases(hidden=0, seed=9):
    return CHECK.public() + CHECK.hidden(np.random.default_rng(seed), hidden)


def _case(label_part):
    return next(c for c in _cases() if label_part in c.label)


def _judge(case, impl=sgd_train):
    return CHECK.judge(case, run_in_process(case, {"sgd_train": impl}), CHECK.tolerance)


def _value(case, value, **extra):
    return CHECK.judge(case, TaskOutcome("ok", (CallOutcome(value, **extra),)), CHECK.tolerance)


def _history(case):
    return {key: value.copy() for key, value in tr._reference(case).items()}


def test_the_engine_passes_every_public_and_hidden_case():
    for case in _cases(hidden=30):
        result = _judge(case)
        assert result.passed, (case.label, result.message)


def _another_correct_loop(X, Y, weights, biases, act, act_grad, lr, steps, max_norm=None):
    """Norms without scaling, the clip folded into the step size, new arrays every step,
    and a key of its own in the history."""
    Ws, bs = list(weights), list(biases)
    L, losses, norms = len(Ws), [], []
    for _ in range(steps):
        As, Zs, A = [X], [], X
        for l in range(L):
            Zs.append(A @ Ws[l] + bs[l])
            A = Zs[-1] if l == L - 1 else act(Zs[-1])
            As.append(A)
        losses.append(np.sum((A - Y) ** 2) / A.size)
        dA, dWs, dbs = (A - Y) * (2.0 / A.size), [None] * L, [None] * L
        for l in reversed(range(L)):
            dZ = dA if l == L - 1 else dA * act_grad(Zs[l])
            dWs[l], dbs[l], dA = As[l].T @ dZ, dZ.sum(axis=0), dZ @ Ws[l].T
        norms.append([np.sqrt(np.sum(dW * dW)) for dW in dWs])
        step = lr
        if max_norm is not None:
            total = np.sqrt(sum(np.sum(g * g) for g in dWs + dbs))
            step = lr * min(1.0, max_norm / (total + 1e-6))
        Ws = [W - step * dW for W, dW in zip(Ws, dWs)]
        bs = [b - step * db for b, db in zip(bs, dbs)]
    return {"loss": np.array(losses), "grad_norms": np.array(norms).reshape(steps, L),
            "lr": lr}


def test_a_correct_loop_written_differently_passes():
    for case in _cases(hidden=80, seed=4):
        assert _judge(case, _another_correct_loop).passed, case.label


@pytest.mark.parametrize("text, flags", tr.TRAIN_MISTAKES,
                         ids=[str(sorted(f)) for _, f in tr.TRAIN_MISTAKES])
def test_each_mistake_model_is_named(text, flags):
    hints = []
    for case in _cases():
        result = _value(case, tr.train_variant(case.data, **flags))
        if not result.passed:
            hints.append(result.hint)
    assert text in hints, hints


def test_the_first_differing_step_and_layer_are_named_with_the_table_at_that_step():
    case = _case("max_norm = 0.01")
    history = _history(case)
    history["grad_norms"][2, 1] *= 1.01
    history["grad_norms"][4, 2] *= 1.01
    result = _value(case, history)
    assert ("the grad norms first differ at history['grad_norms'][2, 1] (step 3, after 2 "
            "updates, layer 2 of 3): expected") in result.message
    assert "layers 1, 3 match" in result.message
    assert "the losses up to step 3 match" in result.message
    assert [row.match for row in result.layers] == [True, False, True]
    assert result.layers[1].ref_norm == tr._reference(case)["grad_norms"][2, 1]
    assert "before clipping" in result.hint and "the loss at step 3 matches" in result.hint


def test_a_loss_that_differs_first_is_named_with_the_steps_that_match():
    case = _case("2 layers, tanh")
    history = _history(case)
    history["loss"][3:] *= 1.001
    result = _value(case, history)
    assert "the loss history first differs at history['loss'][3] (step 4, after 3 updates)" \
        in result.message and "steps 1-3 match (loss and grad norms)" in result.message
    assert "the update after it differs" in result.hint and not result.layers
    history = _history(case)
    history["loss"][0] *= 2
    result = _value(case, history)
    assert "(step 1, before any update)" in result.message
    assert "mean((Y_hat - Y)**2)" in result.hint


def test_the_tolerance_is_relative_to_each_entry():
    case = _case("10 sigmoid layers")
    history = _history(case)
    assert history["grad_norms"][0, 0] < 1e-4 * history["grad_norms"][0, -1]  # vanished
    history["grad_norms"][:, 0] *= 1 + 1e-9
    assert _value(case, history).passed
    history["grad_norms"][:, 0] *= 1 + 1e-5
    result = _value(case, history)
    assert "layer 1 of 10" in result.message


def test_modified_weights_are_named_with_the_copy_hint():
    case = _cases()[0]
    result = _value(case, _history(case), mutated=((0, 2, 1),))
    assert result.status == status.MODIFIED_INPUT
    assert "sgd_train modified its input weights[1]" in result.message
    assert "train on copies" in result.hint
    result = _value(case, _history(case), mutated=((0, 3, 0),))
    assert "its input biases[0]" in result.message


@pytest.mark.parametrize("value, code, words", [
    ((np.zeros(5), np.zeros((5, 2))), status.BAD_TYPE, 'return a dict: {"loss"'),
    ({"loss": np.zeros(5)}, status.BAD_TYPE, 'return a dict: {"loss"'),
    ({"loss": "0 0 0 0 0", "grad_norms": np.zeros((5, 2))}, status.BAD_TYPE, "np.array"),
    ({"loss": [0.0] * 4, "grad_norms": np.zeros((5, 2))}, status.WRONG_SHAPE, "shape (steps,)"),
    ({"loss": np.zeros(5), "grad_norms": np.zeros((2, 5))}, status.WRONG_SHAPE,
     "shape (steps, L)"),
    ({"loss": np.zeros((5, 1)), "grad_norms": np.zeros((5, 2))}, status.WRONG_SHAPE,
     "shape (steps,)"),
])
def test_malformed_histories(value, code, words):
    result = _value(_cases()[0], value)
    assert result.status == code and words in result.hint, (result.message, result.hint)


def test_a_diverged_run_is_told_to_clip():
    case = _case("the clip keeps the run finite")
    unclipped = tr.train_variant(case.data, ignore_clip=True)
    assert not np.all(np.isfinite(unclipped["loss"]))
    result = _value(case, unclipped)
    assert result.status == status.NON_FINITE and "clip dWs + dbs together" in result.hint


def _clip_activity(case) -> list[bool]:
    """Whether the clip acts at each step of the reference run."""
    d = case.data
    act = ACTIVATIONS[d["act"]]
    Ws, bs, active = [W.copy() for W in d["Ws"]], [b.copy() for b in d["bs"]], []
    for _ in range(d["steps"]):
        y_hat, cache = layers.mlp_forward(d["X"], Ws, bs, act.fn)
        dWs, dbs, _ = layers.mlp_backward(layers.mse_loss(y_hat, d["Y"])[1], cache, act.grad)
        active.append(clipping.global_norm(dWs + dbs) + 1e-6 > d["max_norm"])
        clipped, _ = clipping.clip_grad_norm(dWs + dbs, d["max_norm"])
        Ws = [W - d["lr"] * g for W, g in zip(Ws, clipped[:len(Ws)])]
        bs = [b - d["lr"] * g for b, g in zip(bs, clipped[len(Ws):])]
    return active


def test_the_public_cases_are_what_their_labels_say():
    assert all(_clip_activity(_case("the clip acts at every step")))
    assert not any(_clip_activity(_case("the clip never acts")))
    early = _clip_activity(_case("the clip acts early, then not"))
    assert early[0] and not early[-1]
    assert _case("a single step").data["steps"] == 1
    assert all(c.data["max_norm"] is None or "max_norm" in c.calls[0].kwargs for c in _cases())


def test_hidden_runs_are_finite_bounded_and_clip_three_ways():
    kinds = set()
    for case in CHECK.hidden(np.random.default_rng(12), 60):
        history = tr._reference(case)
        assert np.all(np.isfinite(history["loss"])) and history["loss"].max() < tr.MAX_LOSS
        start = tr._initial_norm(case.data)
        m = case.data["max_norm"]
        kinds.add("none" if m is None else "active" if m < start else "inactive")
    assert kinds == {"none", "active", "inactive"}


def test_hidden_failures_reveal_no_values():
    for case in CHECK.hidden(np.random.default_rng(5), 8):
        for flags in ({"lr_factor": lambda lr: 2 * lr}, {"norms_with_bias": True}):
            result = _value(case, tr.train_variant(case.data, **flags))
            if result.passed:
                continue
            assert result.hidden and "expected" not in result.message
            assert all(math.isnan(row.ref_norm) for row in result.layers)
            text = result.message + result.hint
            secrets = [fmt(case.data["lr"]), fmt(float(case.data["X"].flat[0]))]
            if case.data["max_norm"] is not None:
                secrets.append(fmt(case.data["max_norm"]))
            assert not any(s in text for s in secrets), text


def test_a_public_reference_is_computed_once():
    case = _cases()[0]
    assert tr._reference(case) is tr._reference(case)
    hidden = CHECK.hidden(np.random.default_rng(1), 1)[0]
    assert tr._reference(hidden) is not tr._reference(hidden)
