"""Optimizers: the reference against hand-computed steps, every backend against the
reference (parameters and every state buffer), clipping, state_dict, convergence,
and PyTorch when it is installed."""

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

from fastgd import optim

from conftest import import_torch

SIZES = (1, 7, 1001, 30_011)

with warnings.catch_warnings():  # np.matrix is deprecated, and refused as a parameter
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    A_MATRIX = np.matrix(np.ones(3))

# (optimizer class, constructor arguments) covering every branch of every kernel
CONFIGS = [
    (optim.SGD, dict(lr=0.05)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    (optim.RMSprop, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    (optim.Adam, dict(lr=0.01)),
    (optim.Adam, dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.AdamW, dict(lr=0.01, amsgrad=True, betas=(0.8, 0.99))),
    (optim.NAdam, dict(lr=0.01)),
    (optim.NAdam, dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01)),
    (optim.NAdam, dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True, betas=(0.8, 0.99))),
    (optim.Adamax, dict(lr=0.01)),
    (optim.Adamax, dict(lr=0.01, weight_decay=0.01, betas=(0.8, 0.9), eps=1e-3)),
]
CONFIG_IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for cls, kw in CONFIGS]
CLIPPING = {"none": {}, "value": {"clip_value": 0.5}, "norm": {"clip_norm": 2.0}, "both": {"clip_value": 0.5, "clip_norm": 2.0}}


def make_params(dtype, sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for n in sizes]


def gradient_sequence(params, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[(rng.standard_normal(p.shape) * 2).astype(p.dtype) for p in params] for _ in range(steps)]


def run(cls, kwargs, params, grad_steps, **options):
    opt = cls(**kwargs, **options)
    params = [p.copy() for p in params]
    norms = [opt.step(params, grads) for grads in grad_steps]
    return params, opt, norms


def assert_same_state(result, expected, rtol, atol):
    params, opt, norms = result
    params_ref, opt_ref, norms_ref = expected
    for p, p_ref in zip(params, params_ref):
        np.testing.assert_allclose(p, p_ref, rtol=rtol, atol=atol)
    for buffers, buffers_ref in zip(opt.state, opt_ref.state):
        assert buffers.keys() == buffers_ref.keys()
        for name in buffers:
            assert (buffers[name] is None) == (buffers_ref[name] is None), name
            if buffers[name] is not None:
                np.testing.assert_allclose(buffers[name], buffers_ref[name], rtol=rtol, atol=atol, err_msg=name)
    np.testing.assert_allclose(norms, norms_ref, rtol=1e-6 if params[0].dtype == np.float32 else 1e-12)


# ---- the reference against hand-computed steps ----------------------------------------


def test_sgd_momentum_by_hand():
    p, opt = np.array([1.0, -2.0]), optim.SGD(lr=0.1, momentum=0.9, dampening=0.5, backend="numpy")
    opt.step(p, np.array([1.0, 1.0]))  # buffer = g (undamped); p = p - 0.1 g
    np.testing.assert_allclose(p, [0.9, -2.1])
    opt.step(p, np.array([2.0, 0.0]))  # buffer = 0.9 * 1 + 0.5 * [2, 0] = [1.9, 0.9]
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], [1.9, 0.9])
    np.testing.assert_allclose(p, [0.9 - 0.19, -2.1 - 0.09])


def test_sgd_nesterov_and_weight_decay_by_hand():
    p, opt = np.array([2.0]), optim.SGD(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.25, backend="numpy")
    opt.step(p, np.array([1.0]))  # g = 1 + 0.25 * 2 = 1.5; b = 1.5; d = 1.5 + 0.5 * 1.5 = 2.25
    np.testing.assert_allclose(p, [2.0 - 0.225])


def test_adagrad_by_hand():
    p, opt = np.array([1.0]), optim.Adagrad(lr=0.5, lr_decay=1.0, initial_accumulator_value=1.0, eps=0.0, backend="numpy")
    opt.step(p, np.array([3.0]))  # s = 1 + 9 = 10; p = 1 - 0.5 * 3 / sqrt(10)
    np.testing.assert_allclose(p, [1 - 1.5 / math.sqrt(10)])
    opt.step(p, np.array([1.0]))  # clr = 0.5 / 2; s = 11
    np.testing.assert_allclose(p, [1 - 1.5 / math.sqrt(10) - 0.25 / math.sqrt(11)])


def test_rmsprop_centered_momentum_by_hand():
    p, opt = np.array([0.0]), optim.RMSprop(lr=0.1, alpha=0.5, eps=0.0, momentum=0.5, centered=True, backend="numpy")
    opt.step(p, np.array([2.0]))  # v = 0.5 * 4 = 2; m = 1; a = sqrt(2 - 1) = 1; b = 2; p = -0.2
    np.testing.assert_allclose(p, [-0.2])
    opt.step(p, np.array([2.0]))  # v = 1 + 2 = 3; m = 1.5; a = sqrt(3 - 2.25); b = 0.5 * 2 + 2 / a
    a = math.sqrt(0.75)
    np.testing.assert_allclose(p, [-0.2 - 0.1 * (1 + 2 / a)])


def test_centered_rmsprop_clamps_negative_variance():
    """v - m^2 can round below zero; PyTorch would take sqrt of it and give NaN."""
    p, opt = np.array([0.0]), optim.RMSprop(lr=0.1, alpha=0.0, eps=1e-8, centered=True, backend="numpy")
    opt.step(p, np.array([0.1]))  # alpha = 0: v = g^2 = 0.010000000000000002, m^2 = 0.01 (rounding)
    assert np.isfinite(p).all()


def test_adam_first_step_is_lr_times_sign():
    """With bias correction Adam's first step is lr * g / (|g| + eps') = lr * sign(g)."""
    p, opt = np.array([1.0, 1.0]), optim.Adam(lr=0.1, eps=0.0, backend="numpy")
    opt.step(p, np.array([3.0, -0.5]))
    np.testing.assert_allclose(p, [0.9, 1.1])


def test_adamw_decays_the_parameters_not_the_gradient():
    p, opt = np.array([2.0]), optim.AdamW(lr=0.1, weight_decay=0.5, eps=0.0, backend="numpy")
    opt.step(p, np.array([1.0]))  # p = 2 (1 - 0.05) - 0.1 sign(1)
    np.testing.assert_allclose(p, [1.9 - 0.1])
    p2, opt2 = np.array([2.0]), optim.Adam(lr=0.1, weight_decay=0.5, eps=0.0, backend="numpy")
    opt2.step(p2, np.array([1.0]))  # L2: g = 1 + 1 = 2; first step still lr * sign(g)
    np.testing.assert_allclose(p2, [1.9])


def test_nadam_first_step_by_hand():
    """Step 1: m = (1 - b1) g and v / (1 - b2) = g^2, so with eps = 0 both terms point along sign(g):
    p -= lr (1 - mu1) / (1 - mu1) sign(g) + lr mu2 / (1 - mu1 mu2) (1 - b1) sign(g)."""
    p, opt = np.array([1.0, 1.0]), optim.NAdam(lr=0.1, eps=0.0, momentum_decay=0.5, backend="numpy")
    opt.step(p, np.array([3.0, -0.5]))
    mu1, mu2 = 0.9 * (1 - 0.5 * 0.96**0.5), 0.9 * (1 - 0.5 * 0.96**1.0)
    step = 0.1 * (1 + mu2 * 0.1 / (1 - mu1 * mu2))
    np.testing.assert_allclose(p, [1 - step, 1 + step])
    assert opt.state_dict()["scalars"] == {"mu_product": pytest.approx(mu1)}


def test_adamax_by_hand():
    p, opt = np.array([1.0]), optim.Adamax(lr=0.1, betas=(0.5, 0.5), eps=0.0, backend="numpy")
    opt.step(p, np.array([2.0]))  # m = 1, u = 2; p = 1 - 0.1 / 0.5 * 1 / 2
    np.testing.assert_allclose(p, [0.9])
    opt.step(p, np.array([-0.5]))  # m = 0.25, u = max(1, 0.5) = 1; p = 0.9 - 0.1 / 0.75 * 0.25
    np.testing.assert_allclose(p, [0.9 - 0.1 / 0.75 * 0.25])
    np.testing.assert_allclose(opt.state[0]["exp_inf"], [1.0])


def test_clipping_order_value_then_norm():
    g = np.array([3.0, 4.0, 0.1])
    p, opt = np.zeros(3), optim.SGD(lr=1.0, clip_value=2.0, clip_norm=1.0, backend="numpy")
    norm = opt.step(p, g)
    assert norm == pytest.approx(np.linalg.norm(g))  # the raw norm
    clipped = np.array([2.0, 2.0, 0.1])
    np.testing.assert_allclose(p, -clipped / (np.linalg.norm(clipped) + 1e-6))


def test_norm_clipping_is_global_over_arrays():
    params, opt = [np.zeros(1), np.zeros(2)], optim.SGD(lr=1.0, clip_norm=1.0, backend="numpy")
    opt.step(params, [np.array([3.0]), np.array([0.0, 4.0])])
    np.testing.assert_allclose(np.concatenate(params), -np.array([3.0, 0.0, 4.0]) / (5.0 + 1e-6))


# ---- every backend against the reference -------------------------------------------------


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("clipping", list(CLIPPING))
def test_backend_matches_reference(compiled_backend, cls, kwargs, clipping, dtype, n_threads):
    params = make_params(dtype)
    steps = gradient_sequence(params, 12)
    options = dict(CLIPPING[clipping])
    expected = run(cls, kwargs, params, steps, backend="numpy", **options)
    result = run(cls, kwargs, params, steps, backend=compiled_backend.name, n_threads=n_threads, **options)
    # float64: FMA contraction and vector order differ by rounding (centered RMSprop cancels in v - m^2);
    # float32: both compute in float32, the compiled kernels in another order and with FMA contraction
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-5)
    assert_same_state(result, expected, rtol, atol)


@pytest.mark.parametrize("cls, kwargs", CONFIGS[::2], ids=CONFIG_IDS[::2])
def test_fused_single_pass_matches_reference(backend, cls, kwargs, dtype):
    """check_finite=False without clip_norm: one pass, the norm computed inline."""
    params = make_params(dtype)
    steps = gradient_sequence(params, 6)
    expected = run(cls, kwargs, params, steps, backend="numpy")
    result = run(cls, kwargs, params, steps, backend=backend.name, check_finite=False)
    # float64: FMA contraction and vector order differ by rounding (centered RMSprop cancels in v - m^2);
    # float32: both compute in float32, the compiled kernels in another order and with FMA contraction
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-5)
    assert_same_state(result, expected, rtol, atol)
    raw = [math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)) for grads in steps]
    np.testing.assert_allclose(result[2], raw, rtol=1e-6)


def test_float32_stays_float32(backend):
    params = make_params(np.float32, sizes=(5, 3))
    opt = optim.Adam(backend=backend.name)
    opt.step(params, [np.ones(5, np.float32), np.ones(3, np.float32)])
    assert all(p.dtype == np.float32 for p in params)
    assert all(b.dtype == np.float32 for s in opt.state for b in s.values() if b is not None)


def test_multidimensional_parameters(backend):
    p = np.ones((3, 4))
    optim.SGD(lr=0.5, backend=backend.name).step(p, np.full((3, 4), 2.0))
    np.testing.assert_allclose(p, np.zeros((3, 4)))


# ---- state, resume, hyper-parameters --------------------------------------------------------


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=CONFIG_IDS)
def test_resume_from_state_dict_is_identical(backend, cls, kwargs):
    params = make_params(np.float64, sizes=(7, 3))
    steps = gradient_sequence(params, 10)
    straight, _, _ = run(cls, kwargs, params, steps, backend=backend.name, clip_norm=3.0)
    first, opt, _ = run(cls, kwargs, params, steps[:4], backend=backend.name, clip_norm=3.0)
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    resumed = cls(backend=backend.name)
    resumed.load_state_dict(saved)
    for grads in steps[4:]:
        resumed.step(first, grads)
    for p, q in zip(first, straight):
        np.testing.assert_array_equal(p, q)


def test_state_dict_is_a_copy():
    p, opt = np.ones(3), optim.Adam(backend="numpy")
    opt.step(p, np.ones(3))
    saved = opt.state_dict()
    opt.step(p, np.ones(3))
    assert saved["step"] == 1 and not np.array_equal(saved["state"][0]["exp_avg"], opt.state[0]["exp_avg"])


def test_load_state_dict_of_another_optimizer_is_refused():
    with pytest.raises(ValueError, match="state_dict is for 'SGD', not 'Adam'"):
        optim.Adam().load_state_dict(optim.SGD().state_dict())


def test_learning_rate_may_change_between_steps(backend):
    p, q = np.ones(4), np.ones(4)
    opt, fresh = optim.SGD(lr=0.1, backend=backend.name), optim.SGD(lr=0.1, backend="numpy")
    opt.step(p, np.ones(4))
    fresh.step(q, np.ones(4))
    opt.lr = fresh.lr = 0.01
    opt.step(p, np.ones(4))
    fresh.step(q, np.ones(4))
    np.testing.assert_allclose(p, 1 - 0.1 - 0.01)
    np.testing.assert_allclose(p, q)


def test_momentum_switched_on_mid_run(backend):
    p, opt = np.zeros(2), optim.SGD(lr=1.0, backend=backend.name)
    opt.step(p, np.ones(2))
    opt.momentum = 0.5
    opt.step(p, np.ones(2))  # the buffer starts at g, as on a first step
    np.testing.assert_allclose(p, [-2.0, -2.0])
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], [1.0, 1.0])


# ---- bad input and non-finite gradients ---------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optim.SGD(lr=-0.1), r"'lr' parameter of SGD must be a float in the range \[0, inf\); got -0.1"),
        (lambda: optim.Adam(betas=(0.9, 1.0)), r"'betas' parameter of Adam must be a pair .* \[0, 1\); got \(0.9, 1.0\)"),
        (lambda: optim.Adam(betas=0.9), r"'betas' parameter of Adam must be a pair"),
        (lambda: optim.Adam(eps=-1), r"'eps' parameter of Adam"),
        (lambda: optim.RMSprop(alpha=1.5), r"'alpha' parameter of RMSprop must be a float in the range \[0, 1\]"),
        (lambda: optim.SGD(momentum=-1), r"'momentum' parameter of SGD"),
        (lambda: optim.SGD(nesterov=True), r"Nesterov momentum requires"),
        (lambda: optim.SGD(nesterov=1), r"'nesterov' parameter of SGD must be a bool; got 1"),
        (lambda: optim.Adagrad(lr_decay=-1), r"'lr_decay' parameter of Adagrad"),
        (lambda: optim.Adagrad(initial_accumulator_value=-1), r"'initial_accumulator_value' parameter of Adagrad"),
        (lambda: optim.SGD(weight_decay=-1), r"'weight_decay' parameter of SGD"),
        (lambda: optim.SGD(lr=float("nan")), r"'lr' parameter of SGD .* got nan"),
        (lambda: optim.SGD(lr="0.1"), r"'lr' parameter of SGD .* got '0.1'"),
        (lambda: optim.Adam(clip_norm=0), r"'clip_norm' parameter of Adam must be None or a float in the range \(0, inf\)"),
        (lambda: optim.Adam(clip_value=-1), r"'clip_value' parameter of Adam"),
        (lambda: optim.Adam(n_threads=0), r"'n_threads' parameter of Adam"),
        (lambda: optim.Adam(n_threads=2**31), r"'n_threads' parameter of Adam"),
        (lambda: optim.Adam(backend="gpu"), r"'backend' parameter of Adam must be None or one of 'cython', 'numba', 'numpy'"),
        (lambda: optim.Adam(check_finite="yes"), r"'check_finite' parameter of Adam must be a bool"),
    ],
)
def test_invalid_hyperparameters_are_refused_by_the_constructor(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_invalid_hyperparameter_is_refused_on_assignment_and_changes_nothing():
    opt = optim.Adam(lr=0.1)
    with pytest.raises(ValueError, match=r"'lr' parameter of Adam .* got -1.0"):
        opt.lr = -1.0
    assert opt.lr == 0.1
    p = np.ones(2)
    opt.step(p, np.ones(2))
    assert np.all(p < 1)


def test_a_settings_conflict_made_by_assignments_is_caught_at_the_next_step():
    opt = optim.SGD(lr=0.1, momentum=0.9, nesterov=True)
    opt.momentum = 0.0
    p = np.ones(2)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        opt.step(p, np.ones(2))
    np.testing.assert_array_equal(p, np.ones(2))
    assert opt.step_count == 0


def test_step_does_not_repack_unchanged_hyperparameters():
    opt = optim.Adam(lr=0.1, backend="numpy")
    p = np.ones(2)
    opt.step(p, np.ones(2))
    packed = opt._kernel_hyper()
    opt.step(p, np.ones(2))
    assert opt._kernel_hyper() is packed
    opt.lr = 0.05
    assert opt._kernel_hyper() is not packed and opt._kernel_hyper()[0] == 0.05


@pytest.mark.parametrize(
    "params, grads, error, message",
    [
        (np.ones(3), np.ones(4), ValueError, r"grads\[0\] has shape \(4,\)"),
        (np.ones(3), np.ones(3, np.float32), ValueError, "dtype float32"),
        ([np.ones(3)], [np.ones(3), np.ones(3)], ValueError, "2 gradient arrays for 1 parameter"),
        (np.ones(3, dtype=int), np.ones(3), TypeError, "float32 or float64 numpy.ndarray, got ndarray of dtype int64"),
        (A_MATRIX, np.ones(3), TypeError, "numpy.ndarray, got matrix"),
        (np.ones((3, 2))[:, 0], np.ones(3), ValueError, "C-contiguous and writeable"),
        ([], [], TypeError, "non-empty list"),
    ],
)
def test_invalid_arrays(params, grads, error, message):
    with pytest.raises(error, match=message):
        optim.SGD().step(params, grads)


def test_state_for_other_shapes_is_refused():
    opt = optim.Adam()
    opt.step(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"params\[0\] has shape \(4,\)"):
        opt.step(np.ones(4), np.ones(4))


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradient_leaves_everything_untouched(backend, cls, kwargs, bad):
    params = make_params(np.float64, sizes=(5, 6))
    opt = cls(**kwargs, backend=backend.name)
    opt.step(params, gradient_sequence(params, 1)[0])
    before_params, before_state = copy.deepcopy(params), copy.deepcopy(opt.state_dict())
    grads = gradient_sequence(params, 1, seed=5)[0]
    grads[1][3] = bad
    with pytest.raises(ValueError, match=r"grads\[1\] contains NaN or infinity"):
        opt.step(params, grads)
    for p, q in zip(params, before_params):
        np.testing.assert_array_equal(p, q)
    after = opt.state_dict()
    assert after["step"] == before_state["step"]
    for s, t in zip(after["state"], before_state["state"]):
        for name in s:
            np.testing.assert_array_equal(s[name], t[name])


def test_unchecked_nan_propagates_like_pytorch(backend):
    p = np.ones(3)
    opt = optim.SGD(lr=0.1, check_finite=False, backend=backend.name)
    norm = opt.step(p, np.array([1.0, np.nan, 1.0]))
    assert math.isnan(norm) and np.isnan(p[1]) and p[0] == pytest.approx(0.9)


def test_huge_finite_gradients_are_clipped_not_refused(backend):
    """Squares of 1e200 overflow; the norm is still finite and clipping still works."""
    p = np.zeros(2)
    opt = optim.SGD(lr=1.0, clip_norm=1.0, backend=backend.name)
    norm = opt.step(p, np.array([3e200, 4e200]))
    assert norm == pytest.approx(5e200)
    np.testing.assert_allclose(p, [-0.6, -0.8])


# ---- convergence ---------------------------------------------------------------------------

QUADRATIC_SETTINGS = [
    (optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.Adagrad, dict(lr=0.5)),
    (optim.RMSprop, dict(lr=0.01, centered=True)),
    (optim.Adam, dict(lr=0.05)),
    (optim.AdamW, dict(lr=0.05, weight_decay=0.0)),
    (optim.NAdam, dict(lr=0.05)),
    (optim.Adamax, dict(lr=0.05)),
]


def _quadratic_descent(opt, curvature, steps, start=3.0):
    """Minimise f(p) = sum curvature (p - 1)^2 / 2 from p = start; return p."""
    p = np.full(curvature.shape, start)
    for _ in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported by step()
            grad = curvature * (p - 1.0)
        opt.step(p, grad)
    return p


@pytest.mark.parametrize("cls, kwargs", QUADRATIC_SETTINGS, ids=lambda x: getattr(x, "__name__", ""))
def test_converges_on_a_quadratic(backend, cls, kwargs):
    curvature = np.linspace(0.5, 2.0, 9)
    p = _quadratic_descent(cls(**kwargs, backend=backend.name), curvature, 600)
    np.testing.assert_allclose(p, 1.0, atol=2e-2)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_clipping_tames_exploding_gradients(backend, momentum):
    """f(p) = sum a_i (p_i - 1)^4 / 4 with scales a = 0.1..10, started far away:
    the gradient explodes there, plain SGD overflows within a few steps, and
    with clip_norm the same run stays finite and reaches the optimum."""
    scales = np.array([0.1, 1.0, 10.0])

    def descend(opt, steps=3000):
        p = np.full(3, 10.0)
        for _ in range(steps):
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported by step()
                grad = scales * (p - 1.0) ** 3
            opt.step(p, grad)
        return p

    with pytest.raises(ValueError, match="contains NaN or infinity"):
        descend(optim.SGD(lr=0.05, momentum=momentum, backend=backend.name))
    p = descend(optim.SGD(lr=0.05, momentum=momentum, clip_norm=1.0, backend=backend.name))
    assert np.isfinite(p).all()
    assert np.sum(scales * (p - 1.0) ** 4 / 4) < 1e-4  # from 1.8e4 at the start


# ---- PyTorch, when installed ----------------------------------------------------------------

TORCH_CONFIGS = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01, decoupled_weight_decay=True)),
    ("Adamax", dict(lr=0.01, weight_decay=0.01, betas=(0.8, 0.99))),
]


@pytest.mark.parametrize("name, kwargs", TORCH_CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CONFIGS)])
@pytest.mark.parametrize("clip_norm", [None, 2.0])
def test_matches_pytorch(backend, name, kwargs, clip_norm):
    torch = import_torch()
    params = make_params(np.float64, sizes=(7, 30))
    steps = gradient_sequence(params, 15)
    ours, opt_ours, _ = run(getattr(optim, name), kwargs, params, steps, backend=backend.name, clip_norm=clip_norm)
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # PyTorch keeps scalar state (NAdam's mu_product) in this dtype
    try:
        opt = getattr(torch.optim, name)(tensors, **kwargs)
        for grads in steps:
            for t, g in zip(tensors, grads):
                t.grad = torch.tensor(g)
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(tensors, clip_norm)
            opt.step()
    finally:
        torch.set_default_dtype(default_dtype)
    for p, t in zip(ours, tensors):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-10, atol=1e-12)
    compared = 0
    for buffers, t in zip(opt_ours.state, tensors):  # every state buffer PyTorch keeps under the same name
        for buffer_name, buffer in buffers.items():
            if buffer is not None and buffer_name in opt.state[t]:
                np.testing.assert_allclose(buffer, opt.state[t][buffer_name].numpy(), rtol=1e-10, atol=1e-12, err_msg=buffer_name)
                compared += 1
        for scalar_name, value in opt_ours.state_dict()["scalars"].items():
            if scalar_name in opt.state[t]:
                assert value == pytest.approx(float(opt.state[t][scalar_name]), rel=1e-12)
    assert compared >= len(tensors)
