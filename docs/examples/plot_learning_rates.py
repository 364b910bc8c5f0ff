"""
Learning rates: too small, right, too large, and adaptive rules
===============================================================

Full-batch gradient descent on a least-squares problem takes the step ``w ← w − lr·g``. On a
quadratic objective with Hessian eigenvalues between λ_min and λ_max, each step shrinks the error
along an eigenvector by the factor ``|1 − lr·λ|``: the rate must stay below ``2/λ_max`` or the error
along the steepest direction grows, and the speed of the slowest direction is ``lr·λ_min`` per epoch.
This example runs :class:`fastgd.LinearRegression` with a fixed rate three times, then lets three
adaptive rules of :mod:`fastgd.schedules` choose the rate.
"""

# %%
# A small problem with known curvature
# ------------------------------------
# 400 samples, 5 features scaled from 1 down to 0.3, so the curvature differs between directions.
# For the objective ``mean((x·w + b − y)²)/2`` the Hessian is ``AᵀA/n`` with ``A = [X, 1]``: its
# eigenvalues give the largest stable rate. The exact minimum, from NumPy's least squares, lets the
# plots show the distance to it, ``f − f*``.

import warnings

import matplotlib.pyplot as plt
import numpy as np

import fastgd
from fastgd import schedules

X, y, _ = fastgd.datasets.make_regression(400, 5, random_state=0, noise=0.01)
X *= np.array([1.0, 0.8, 0.6, 0.4, 0.3])
A = np.column_stack([X, np.ones(len(X))])
eigenvalues = np.linalg.eigvalsh(A.T @ A / len(X))
solution = np.linalg.lstsq(A, y, rcond=None)[0]
f_star = 0.5 * np.mean((A @ solution - y) ** 2)
print(f"Hessian eigenvalues from {eigenvalues.min():.3f} to {eigenvalues.max():.3f}: "
      f"the largest stable rate is 2/λ_max = {2 / eigenvalues.max():.3f}; f* = {f_star:.4g}")


def fit(**options):
    """A full-batch, plain gradient-descent fit (no penalty); returns the model and its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastgd.LinearRegression(optimizer="sgd", alpha=0.0, max_iter=100, **options).fit(X, y)
    return model, [str(w.message) for w in caught]


def gap(model):
    """``f − f*`` per epoch (``history_["loss"]`` is the objective at the start of each epoch)."""
    return model.history_["loss"] - f_star


def final_gap(model):
    """``f − f*`` at the parameters the fit returned."""
    return 0.5 * np.mean((model.predict(X) - y) ** 2) - f_star


# %%
# Three fixed rates
# -----------------
# ``lr=0.1`` is safe but crawls: the slowest direction shrinks by ``1 − 0.1·0.092`` per epoch.
# ``lr=1.5`` is below 2/λ_max and converges within the budget. ``lr=4`` is more than twice too large:
# the loss grows about tenfold per epoch. fastgd's divergence guard stops that run once the loss is
# over 1000 times its initial value, ends with ``stop_reason_ == "diverged"``, keeps the best
# parameters it saw (here the initial ones, which are finite) and warns with what to change.

fixed = {lr: fit(lr=lr) for lr in (0.1, 1.5, 4.0)}
for lr, (model, messages) in fixed.items():
    print(f"lr={lr}: stop_reason_={model.stop_reason_!r} after {model.n_iter_} epochs, "
          f"f − f* at the returned parameters = {final_gap(model):.3g}, coef_ finite: {np.isfinite(model.coef_).all()}")
    for message in messages:
        print("    warning:", message)

fig, axis = plt.subplots(figsize=(8, 4.5), layout="constrained")
for lr, (model, _) in fixed.items():
    epochs = np.arange(len(gap(model)))
    line, = axis.semilogy(epochs, gap(model), marker=".", label=f"lr = {lr}: {model.stop_reason_}")
    axis.plot(epochs[-1], gap(model)[-1], "x" if model.stop_reason_ == "diverged" else "o", color=line.get_color(),
              markersize=10)
    if model.stop_reason_ == "diverged":
        axis.annotate("diverged: stopped,\ninitial parameters kept", xy=(epochs[-1], gap(model)[-1]),
                      xytext=(epochs[-1] + 8, gap(model)[-1] / 3), arrowprops=dict(arrowstyle="->"), fontsize=9)
axis.set(xlabel="epoch", ylabel="f − f* (log scale)", title="fixed learning rates, full-batch gradient descent")
axis.grid(True, which="both", alpha=0.3)
axis.legend()
plt.show()

# %%
# Adaptive rules, all started at the rate that diverged
# -----------------------------------------------------
# An adaptive rule sees each epoch's loss and sets the next rate (``schedule=`` of the estimator):
#
# * :class:`~fastgd.schedules.BoldDriver` multiplies the rate by 1.05 while the loss falls; when it
#   rises, it halves the rate and undoes the epoch;
# * :class:`~fastgd.schedules.ReduceLROnPlateau` (PyTorch's rule) multiplies the rate by ``factor``
#   after ``patience`` epochs without improvement; it never raises it again;
# * :class:`~fastgd.schedules.ArmijoLineSearch` tries a step, halves it until the loss falls by at
#   least ``c·t·||g||²``, and starts the next search from twice the step accepted. Its ``lr``
#   column records the trial step each search starts from, so the step accepted is the next
#   trial divided by 2: that is what the right panel draws for it.

rules = {
    "BoldDriver(4.0)": schedules.BoldDriver(4.0),
    "ReduceLROnPlateau(4.0, factor=0.5, patience=0)": schedules.ReduceLROnPlateau(4.0, factor=0.5, patience=0),
    "ArmijoLineSearch(lr=4.0)": schedules.ArmijoLineSearch(lr=4.0),
}
adaptive = {name: fit(schedule=rule)[0] for name, rule in rules.items()}
for name, model in adaptive.items():
    print(f"{name}: {model.stop_reason_!r} after {model.n_iter_} epochs, f − f* = {final_gap(model):.3g}, "
          f"history_['lr'] from {model.history_['lr'].min():.3g} to {model.history_['lr'].max():.3g}")
armijo_accepted = adaptive["ArmijoLineSearch(lr=4.0)"].history_["lr"][1:] / 2
steps, counts = np.unique(armijo_accepted, return_counts=True)
print("Armijo: steps accepted " + ", ".join(f"{step:g} ({count} times)" for step, count in zip(steps, counts)))

fig, (gap_axis, rate_axis) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
best_fixed = fixed[1.5][0]
gap_axis.semilogy(gap(best_fixed), color="gray", linestyle=":", label="fixed lr = 1.5 (for comparison)")
for name, model in adaptive.items():
    gap_axis.semilogy(gap(model), marker=".", markersize=4, label=f"{name}: {model.stop_reason_}")
    if isinstance(rules[name], schedules.ArmijoLineSearch):
        rate_axis.plot(np.arange(len(armijo_accepted)), armijo_accepted, marker=".", markersize=4,
                       label="Armijo: step accepted")
    else:
        rate_axis.plot(model.history_["lr"], marker=".", markersize=4, label=type(rules[name]).__name__)
rate_axis.axhline(2 / eigenvalues.max(), color="black", linestyle="--", linewidth=1, label="2/λ_max")
gap_axis.set(xlabel="epoch", ylabel="f − f* (log scale)", title="loss of the adaptive rules")
rate_axis.set(xlabel="epoch", ylabel="learning rate", title="the rate each rule chose")
for axis in (gap_axis, rate_axis):
    axis.grid(True, which="both", alpha=0.3)
gap_axis.legend(fontsize=8, loc="upper right")
rate_axis.legend(fontsize=8, loc="center right")
plt.show()

# %%
# The bold driver recovers from the bad start by undoing one epoch, then raises the rate by 5 % per
# epoch, past the stability limit, until the loss rises; it then halves the rate and undoes that epoch:
# a sawtooth that converges about as fast as the best fixed rate, without knowing it in advance.
# ``ReduceLROnPlateau`` survives the start too, but it lowered the rate to 0.5 during the first bad
# epochs and never raises it, so it runs out of epochs (``max_iter``) far from the others. The Armijo
# search checks every step against the loss before taking it, and often accepts a step above
# 2/λ_max: a single long step is harmless when the gradient points mostly along flat directions. It
# is the fastest here, at the price of one extra loss evaluation for each rejected trial.
