"""
Exploding gradients: clipping and adaptive optimizers
=====================================================

When features have very different scales, the curvature of the loss differs as much between
directions: a feature 30 times larger than the others makes the squared loss about 900 times steeper
along its weight. A rate that suits the flat directions overshoots along the steep one, the
overshoot grows at every step and the gradient explodes. Two remedies are built into every
:mod:`fastgd.optim` optimizer and estimator:

* clipping bounds each step: ``clip_value`` clamps every gradient entry to ``[−c, c]``, ``clip_norm``
  rescales the whole gradient to a norm of at most ``c``;
* adaptive optimizers (``optimizer="rmsprop"``, ``"adam"``) divide each coordinate's step by a running
  root mean square of its own gradient, so every weight moves at about ``lr`` per step whatever its
  scale.

(The remedy that removes the cause, standardizing the features, is the first thing to do on real
data; this example keeps the bad scaling on purpose.)
"""

# %%
# An ill-conditioned least-squares problem
# ----------------------------------------
# Three features with scales 1, 3 and 30, 1000 samples. The Hessian of ``mean((x·w + b − y)²)/2`` has
# eigenvalues from about 0.9 to about 940, so plain gradient descent is stable only below
# ``2/λ_max ≈ 0.002``. Every fit below uses ``lr=0.01``, five times that, on the full batch.

import warnings

import matplotlib.pyplot as plt
import numpy as np

import fastgd

X, y, _ = fastgd.datasets.make_regression(1000, 3, random_state=0, noise=0.1)
X *= np.array([1.0, 3.0, 30.0])
A = np.column_stack([X, np.ones(len(X))])
eigenvalues = np.linalg.eigvalsh(A.T @ A / len(X))
f_star = 0.5 * np.mean((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
print(f"Hessian eigenvalues {', '.join(f'{e:.3g}' for e in eigenvalues)}: condition number {eigenvalues.max() / eigenvalues.min():.0f}, "
      f"2/λ_max = {2 / eigenvalues.max():.4f}")

# %%
# Five fits at the same rate
# --------------------------
# ``tol=1e-5`` and ``n_iter_no_change=20`` keep the fits going long enough to show where each ends.

runs = {
    "SGD": dict(optimizer="sgd"),
    "SGD, clip_value=1": dict(optimizer="sgd", clip_value=1.0),
    "SGD, clip_norm=1": dict(optimizer="sgd", clip_norm=1.0),
    "RMSprop": dict(optimizer="rmsprop"),
    "Adam": dict(optimizer="adam"),
}
models = {}
for name, options in runs.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models[name] = fastgd.LinearRegression(alpha=0.0, lr=0.01, max_iter=200, tol=1e-5, n_iter_no_change=20,
                                               **options).fit(X, y)
    model = models[name]
    final_gap = 0.5 * np.mean((model.predict(X) - y) ** 2) - f_star
    print(f"{name:>18}: {model.stop_reason_!r:>11} after {model.n_iter_:3d} epochs, f − f* = {final_gap:.2e}, "
          f"last gradient norm {model.history_['grad_norm'][-1]:.3g}")
    for message in caught:
        print(f"{'':>20}warning: {str(message.message)[:110]}...")

# %%
# The loss and the gradient norm per epoch
# ----------------------------------------
# ``history_["loss"]`` is the objective at the start of each epoch and ``history_["grad_norm"]`` the
# norm of the raw gradient there, before any clipping.

fig, (loss_axis, grad_axis) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for name, model in models.items():
    epochs = np.arange(len(model.history_["loss"]))
    line, = loss_axis.semilogy(epochs, model.history_["loss"] - f_star, label=f"{name}: {model.stop_reason_}")
    grad_axis.semilogy(epochs, model.history_["grad_norm"], color=line.get_color(), label=name)
    if model.stop_reason_ == "diverged":
        loss_axis.plot(epochs[-1], model.history_["loss"][-1] - f_star, "x", color=line.get_color(), markersize=10)
loss_axis.set(xlabel="epoch", ylabel="f − f* (log scale)", title="loss at lr = 0.01 (5 × the stable rate)")
grad_axis.set(xlabel="epoch", ylabel="||gradient|| before clipping (log scale)", title="raw gradient norm")
for axis in (loss_axis, grad_axis):
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
plt.show()

# %%
# What the curves show
# --------------------
# * Plain SGD multiplies the error along the steep direction by ``|1 − 0.01·940| ≈ 8.4`` per epoch:
#   the loss grows over 1000-fold within three epochs, and fastgd stops with ``"diverged"``, keeping
#   the initial parameters.
# * Clipping stops the explosion but not the cause: near the minimum the clipped step along the steep
#   direction is still too long, so the fit rattles across the valley. The loss stays bounded and
#   falls slowly, while the raw gradient norm stays high: clipping treats the symptom.
# * RMSprop and Adam rescale each coordinate, so the steep weight takes steps of about ``lr`` like the
#   others and both get within 1e-4 of the optimum. RMSprop stops as ``"stalled"`` at the noise floor
#   (its loss no longer improves by ``tol`` relative to a loss of 0.005, and its gradient is within
#   100 × ``tol``, so there is no warning); Adam's momentum makes it circle the minimum a little
#   longer.
