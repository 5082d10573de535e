"""Quick sanity checks of the reference solutions (the full grading happens in the grader)."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"reference_{name}", SOLUTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


act = load("activations")
init = load("initializers")
clip = load("clipping")
bwd = load("backward")

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu"]
ALL_ACTIVATION_FUNCTIONS = ACTIVATIONS + [name + "_grad" for name in ACTIVATIONS]


def test_derivatives_at_the_kink_follow_pytorch():
    zero = np.array([0.0])
    assert act.relu_grad(zero)[0] == 0.0
    assert act.leaky_relu_grad(zero)[0] == 0.01
    assert act.leaky_relu_grad(zero, alpha=0.2)[0] == 0.2
    assert act.elu_grad(zero)[0] == 1.0
    assert act.elu_grad(zero, alpha=0.5)[0] == 0.5
    assert act.selu_grad(zero)[0] == act.SELU_SCALE * act.SELU_ALPHA
    assert act.sigmoid_grad(zero)[0] == 0.25


def test_sigmoid_of_huge_inputs_is_exact_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            assert act.sigmoid(np.array(-1000.0)) == 0.0
            assert act.sigmoid(np.array(1000.0)) == 1.0
            assert np.all(np.isfinite(act.sigmoid_grad(np.array([-1000.0, 1000.0]))))
            assert act.elu(np.array(1000.0)) == 1000.0
            assert act.selu(np.array(1e300)) == act.SELU_SCALE * 1e300
            assert act.elu_grad(np.array(1000.0)) == 1.0
            assert act.silu(np.array(-1000.0)) == 0.0


@pytest.mark.parametrize("name", ALL_ACTIVATION_FUNCTIONS)
def test_zero_d_in_zero_d_out(name):
    out = getattr(act, name)(np.array(0.7))
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64


@pytest.mark.parametrize("name", ALL_ACTIVATION_FUNCTIONS)
def test_shape_kept_and_input_unchanged(name):
    z = np.linspace(-3, 3, 24).reshape(2, 3, 4)
    before = z.copy()
    out = getattr(act, name)(z)
    assert out.shape == z.shape
    np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_grad_matches_centred_differences(name):
    z = np.array([-2.5, -0.7, -0.1, 0.3, 1.1, 2.9])  # away from the kink at 0
    f, df = getattr(act, name), getattr(act, name + "_grad")
    h = 1e-6
    numeric = (f(z + h) - f(z - h)) / (2 * h)
    np.testing.assert_allclose(df(z), numeric, rtol=1e-7, atol=1e-9)


def test_initializers_shape_dtype_bounds_and_seed():
    for fn in [init.xavier_uniform, init.xavier_normal, init.he_uniform, init.he_normal,
               init.lecun_normal, init.random_normal]:
        w = fn(64, 32, np.random.default_rng(3))
        assert w.shape == (64, 32) and w.dtype == np.float64
        np.testing.assert_array_equal(w, fn(64, 32, np.random.default_rng(3)))
    assert np.abs(init.he_uniform(50, 40, np.random.default_rng(0))).max() <= np.sqrt(6 / 50)
    w = init.he_normal(2000, 500, np.random.default_rng(0))
    assert abs(w.var() / (2 / 2000) - 1) < 0.02


def test_clip_grad_norm_example():
    grads = [np.array([3.0]), np.array([[4.0]])]
    clipped, total_norm = clip.clip_grad_norm(grads, max_norm=1.0)
    assert total_norm == 5.0
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(clipped[0], [3.0 * scale], rtol=1e-15)
    np.testing.assert_allclose(clipped[1], [[4.0 * scale]], rtol=1e-15)
    assert grads[0][0] == 3.0 and grads[1][0, 0] == 4.0

    unclipped, _ = clip.clip_grad_norm(grads, max_norm=10.0)
    assert all(u is not g for u, g in zip(unclipped, grads))
    np.testing.assert_array_equal(unclipped[1], grads[1])


def test_global_norm_variants():
    grads = [np.array([3.0, -4.0]), np.array([[-12.0]])]
    assert clip.global_norm(grads) == 13.0
    assert clip.global_norm(grads, norm_type=1.0) == 19.0
    assert clip.global_norm(grads, norm_type=float("inf")) == 12.0
    assert clip.global_norm([np.array([1e200, 1e200])]) == pytest.approx(np.sqrt(2) * 1e200)


def test_clip_grad_value_makes_new_clamped_arrays():
    g = np.array([-3.0, 0.5, 2.0])
    (out,) = clip.clip_grad_value([g], 1.0)
    np.testing.assert_array_equal(out, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(g, [-3.0, 0.5, 2.0])


def test_mse_loss_and_its_gradient():
    pred, target = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 2.0], [1.0, 4.0]])
    loss, dpred = bwd.mse_loss(pred, target)
    assert loss == pytest.approx(5.0 / 4.0) and isinstance(loss, float)
    np.testing.assert_allclose(dpred, 2 * (pred - target) / 4)


def test_mlp_gradients_match_centred_differences():
    rng = np.random.default_rng(7)
    sizes = [3, 5, 4, 2]
    X = rng.normal(size=(4, sizes[0]))
    Y = rng.normal(size=(4, sizes[-1]))
    weights = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=b) for b in sizes[1:]]
    originals = [w.copy() for w in weights]

    def loss_of(X_):
        return bwd.mse_loss(bwd.mlp_forward(X_, weights, biases, act.tanh)[0], Y)[0]

    Y_hat, cache = bwd.mlp_forward(X, weights, biases, act.tanh)
    _, dY_hat = bwd.mse_loss(Y_hat, Y)
    dWs, dbs, dAs = bwd.mlp_backward(dY_hat, cache, act.tanh_grad)
    assert len(dWs) == len(dbs) == len(dAs) == 3

    def numeric(array):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + 1e-6
            up = loss_of(X)
            array[index] = old - 1e-6
            down = loss_of(X)
            array[index] = old
            grad[index] = (up - down) / 2e-6
        return grad

    for i in range(3):
        np.testing.assert_allclose(dWs[i], numeric(weights[i]), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(dbs[i], numeric(biases[i]), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dAs[0], numeric(X), rtol=1e-6, atol=1e-9)
    for i in range(1, 3):
        assert dAs[i].shape == (4, sizes[i])
    for w, o in zip(weights, originals):
        np.testing.assert_array_equal(w, o)


# --- exercises 5 to 7 against the reference engine -----------------------------------------
# Until their checks are registered, this is what holds the solutions to the engine.

diag = load("diagnostics")
fixes = load("fixes")
train = load("training")


def frozen(*arrays):
    out = []
    for a in arrays:
        a = np.array(a, dtype=np.float64)
        a.flags.writeable = False  # any write by the solution raises
        out.append(a)
    return out


def assert_same(ours, ref, rtol=1e-12):
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape
    err = np.max(np.abs(ours - ref), initial=0.0)
    assert err <= rtol * np.max(np.abs(ref), initial=0.0), f"max|diff| {err:.3g}"


def small_net(rng, widths, scale=1.0):
    weights = frozen(*(scale * rng.normal(size=(i, o)) / np.sqrt(i)
                       for i, o in zip(widths[:-1], widths[1:])))
    biases = frozen(*(0.1 * rng.normal(size=o) for o in widths[1:]))
    return weights, biases


@pytest.mark.parametrize("seed", range(5))
def test_diagnostics_solution_matches_the_engine(seed):
    from grader.engine import diagnostics as ref

    rng = np.random.default_rng(seed)
    grads = frozen(*(rng.normal(size=s) * 10.0 ** rng.uniform(-250, 250)
                     for s in [(3, 4), (5,), (), (2, 2, 2)]))
    assert_same(diag.layer_norms(grads), ref.layer_norms(grads))
    norms = ref.layer_norms(grads)
    assert diag.gradient_ratio(norms) == ref.gradient_ratio(norms)
    for thresholds in [(), (1e-3, 1e3), (norms[0] / norms[-1], norms[0] / norms[-1])]:
        assert diag.diagnose(norms, *thresholds) == ref.diagnose(norms, *thresholds)
    x = frozen(rng.normal(size=(2, 3)))[0]
    f = lambda p: float(np.sum(np.tanh(p) * p))  # noqa: E731
    assert_same(diag.numerical_gradient(f, x), ref.numerical_gradient(f, x))
    assert_same(diag.numerical_gradient(f, x, 1e-3), ref.numerical_gradient(f, x, 1e-3))
    a, b = frozen(rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
    assert diag.relative_error(a, b) == pytest.approx(ref.relative_error(a, b), rel=1e-15)
    assert diag.relative_error(a * 0, b * 0) == 0.0


@pytest.mark.parametrize("widths", [[3, 3, 3, 2], [4, 5, 5, 5, 1], [2, 2], [1, 1, 1, 1]])
@pytest.mark.parametrize("name", ["tanh", "relu"])
def test_residual_solution_matches_the_engine(widths, name):
    from grader.engine import fixes as ref
    from grader.engine.activations import ACTIVATIONS

    rng = np.random.default_rng(len(widths))
    weights, biases = small_net(rng, widths)
    X, dY = frozen(rng.normal(size=(4, widths[0])), rng.normal(size=(4, widths[-1])))
    fn, grad = ACTIVATIONS[name].fn, ACTIVATIONS[name].grad
    Y_hat, cache = fixes.residual_forward(X, weights, biases, fn)
    Y_ref, cache_ref = ref.residual_forward(X, weights, biases, fn)
    assert_same(Y_hat, Y_ref)
    for ours, theirs in zip(fixes.residual_backward(dY, cache, grad),
                            ref.residual_backward(dY, cache_ref, grad)):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            assert_same(o, t)


@pytest.mark.parametrize("eps", [1e-5, 0.5])
@pytest.mark.parametrize("shape", [(1, 5), (2, 3), (6, 4)])
@pytest.mark.parametrize("kind", ["layernorm", "batchnorm"])
def test_normalisation_solutions_match_the_engine(kind, shape, eps):
    from grader.engine import fixes as ref

    if kind == "batchnorm" and shape[0] == 1:
        shape = (3, shape[1])
    rng = np.random.default_rng(sum(shape))
    x, dout = frozen(rng.normal(size=shape), rng.normal(size=shape))
    gamma, beta = frozen(rng.normal(1.0, 0.3, size=shape[1]), rng.normal(size=shape[1]))
    forward, backward = getattr(fixes, f"{kind}_forward"), getattr(fixes, f"{kind}_backward")
    ref_forward, ref_backward = getattr(ref, f"{kind}_forward"), getattr(ref, f"{kind}_backward")
    out, cache = forward(x, gamma, beta, eps)
    out_ref, cache_ref = ref_forward(x, gamma, beta, eps)
    assert_same(out, out_ref)
    for o, t in zip(backward(dout, cache), ref_backward(dout, cache_ref)):
        assert_same(o, t, rtol=1e-11)


@pytest.mark.parametrize("max_norm", [None, 0.05, 1e6])
@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid"])
def test_training_solution_matches_the_engine(name, max_norm):
    from grader.engine.activations import ACTIVATIONS
    from grader.engine.training import sgd_train

    rng = np.random.default_rng(11)
    weights, biases = small_net(rng, [3, 6, 6, 2], 1.5)
    X, Y = frozen(rng.normal(size=(8, 3)), rng.normal(size=(8, 2)))
    fn, grad = ACTIVATIONS[name].fn, ACTIVATIONS[name].grad
    ours = train.sgd_train(X, Y, weights, biases, fn, grad, 0.1, 12, max_norm)
    theirs = sgd_train(X, Y, weights, biases, fn, grad, 0.1, 12, max_norm)
    assert set(ours) == {"loss", "grad_norms"}
    assert_same(ours["loss"], theirs["loss"])
    assert_same(ours["grad_norms"], theirs["grad_norms"])
