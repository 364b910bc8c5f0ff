"""
Plateaus: a small gradient is not convergence
=============================================

Gradient descent stops moving wherever the gradient is small, and that is not only at a minimum: on a
plateau or near a saddle point the gradient is small too, while the loss is far from its best. fastgd
records two diagnostics per epoch in ``history_`` to tell these apart:

* ``grad_norm`` -- the norm of the full gradient. Training ends as ``"converged"`` when it falls to
  ``tol``: the gradient is small;
* ``grad_change`` -- ``||g_t − g_{t−1}|| / ||g_{t−1}||``, how much the gradient moved since the last
  epoch (NaN at the first). On a plateau the parameters barely move, so the gradient stops changing:
  ``grad_change`` falls towards 0 while ``grad_norm`` stays above ``tol``. When the loss has not
  improved by ``tol·|loss|`` for ``n_iter_no_change`` epochs with the gradient still above ``tol``,
  training ends as ``"stalled"`` and, when the gradient is far above ``tol``, warns that this is not
  convergence.

This example fits a small neural network twice on the same data: once from a normal start, once from
a start where every hidden unit is saturated.
"""

# %%
# Data and a healthy fit
# ----------------------
# Two interleaved half-moons (400 points), a network with 16 logistic hidden units. From scikit-learn's
# initialization, L-BFGS fits it until the gradient norm is below ``tol``.

import warnings

import matplotlib.pyplot as plt
import numpy as np

import fastgd

TOL = 1e-4


def two_moons(n, noise, seed):
    """Two interleaved half-circles with Gaussian noise; labels 0 and 1."""
    rng = np.random.default_rng(seed)
    angle, label = rng.uniform(0, np.pi, n), rng.integers(0, 2, n)
    X = np.column_stack([np.cos(angle) + label, np.sin(angle) * (1 - 2 * label) + 0.5 * label])
    return X + noise * rng.standard_normal((n, 2)), label


X, y = two_moons(400, noise=0.15, seed=0)


def fit(model):
    """Fit and return ``model`` and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    return model, [str(w.message) for w in caught]


healthy, _ = fit(fastgd.MLPClassifier((16,), "logistic", optimizer="lbfgs", tol=TOL, max_iter=1000, random_state=0))

# %%
# A saturated start
# -----------------
# Now the same network from weights 100 times larger and biases raised by 100: every hidden unit
# outputs almost exactly 1 on every sample, so its derivative ``a(1 − a)`` is almost 0 and almost no
# gradient flows to the first layer. The start is set through ``warm_start``: a fit of one epoch
# creates ``coefs_`` and ``intercepts_``, which are scaled and given to a model with
# ``warm_start=True``, whose fit starts from them: full-batch gradient descent (``optimizer="sgd"``,
# ``lr=0.1``), stopping as ``"stalled"`` after 30 epochs without progress (``n_iter_no_change=30``).

def saturated_start(model):
    """Give ``model`` (with ``warm_start=True``) a start where every hidden unit is saturated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # one epoch: "max_iter" is expected
        start = fastgd.MLPClassifier((16,), "logistic", optimizer="sgd", lr=0.01, batch_size=None, max_iter=1,
                                     random_state=0).fit(X, y)
    model.coefs_ = [start.coefs_[0] * 100.0, start.coefs_[1]]
    model.intercepts_ = [start.intercepts_[0] + 100.0, start.intercepts_[1]]
    return model


saturated, messages = fit(saturated_start(fastgd.MLPClassifier(
    (16,), "logistic", optimizer="sgd", lr=0.1, batch_size=None, max_iter=1000, tol=TOL, n_iter_no_change=30,
    warm_start=True)))

for name, model in {"healthy start, L-BFGS": healthy, "saturated start, gradient descent": saturated}.items():
    history = model.history_
    print(f"{name}: stop_reason_ = {model.stop_reason_!r} after {model.n_iter_} iterations/epochs; "
          f"loss {history['loss'][-1]:.4f}, accuracy {model.score(X, y):.3f}, "
          f"grad_norm {history['grad_norm'][-1]:.2e} (tol {TOL:g}), last grad_change {history['grad_change'][-1]:.2e}")
for message in messages:
    print("warning:", message)

# %%
# The diagnostics side by side
# ----------------------------
# The healthy fit ends with ``grad_norm`` below the dashed ``tol`` line; its gradient keeps changing
# direction to the end (``grad_change`` of order 1), because L-BFGS keeps making real progress. The
# saturated fit's loss falls at first, while the output layer adapts to what the saturated units give,
# then flattens at a poor value; its ``grad_norm`` levels off about 100 times above ``tol`` and
# ``grad_change`` drops to about 1e-5: the gradient is the same epoch after epoch, and each step of
# ``lr·g`` moves the loss by about ``lr·||g||²`` ≈ 1e-5. A flat loss with a gradient that is not small
# and no longer changes, not the size of the gradient, is what ``"stalled"`` reports.

runs = {"healthy start (L-BFGS)": healthy, "saturated start (gradient descent)": saturated}
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
for name, model in runs.items():
    history = model.history_
    steps = np.arange(1, len(history["loss"]) + 1)
    line, = axes[0].semilogx(steps, history["loss"], label=f"{name}: {model.stop_reason_}")
    axes[1].loglog(steps, history["grad_norm"], color=line.get_color(), label=name)
    axes[2].loglog(steps, history["grad_change"], color=line.get_color(), label=name)
    for axis, column in zip(axes, ("loss", "grad_norm", "grad_change")):
        axis.plot(steps[-1], history[column][-1], "o", color=line.get_color())
        axis.annotate(model.stop_reason_, (steps[-1], history[column][-1]), textcoords="offset points",
                      xytext=(-5, 8), ha="right", color=line.get_color(), fontweight="bold")
axes[1].axhline(TOL, color="black", linestyle="--", linewidth=1, label="tol: converged below")
axes[0].set(title="loss", xlabel="iteration / epoch (log scale)", ylabel="loss (penalized objective)")
axes[1].set(title="grad_norm: is the gradient small?", xlabel="iteration / epoch (log scale)",
            ylabel="||gradient|| (log scale)")
axes[2].set(title="grad_change: is it still changing?", xlabel="iteration / epoch (log scale)",
            ylabel="||g_t − g_t−1|| / ||g_t−1|| (log scale)")
for axis, place in zip(axes, ("center right", "lower left", "center left")):
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8, loc=place)
plt.show()

# %%
# When even the gradient vanishes
# -------------------------------
# The diagnostics read the gradient, so they cannot see a flat region where the gradient is
# numerically zero. L-BFGS from the same saturated start takes a few iterations, finds a gradient
# below ``tol`` and reports ``"converged"``, at the loss of a constant prediction (log 2 ≈ 0.693) and
# chance accuracy: the saturated units pass no gradient at all, and the output layer alone is at its
# optimum. A converged fit with a poor loss is the sign of such a region; a different initialization,
# smaller initial weights or another activation get out of it.

lbfgs_saturated, _ = fit(saturated_start(fastgd.MLPClassifier(
    (16,), "logistic", optimizer="lbfgs", tol=TOL, max_iter=1000, warm_start=True)))
print(f"L-BFGS from the saturated start: {lbfgs_saturated.stop_reason_!r} after {lbfgs_saturated.n_iter_} "
      f"iterations, loss {lbfgs_saturated.history_['loss'][-1]:.4f}, accuracy {lbfgs_saturated.score(X, y):.3f}, "
      f"grad_norm {lbfgs_saturated.history_['grad_norm'][-1]:.1e}")
