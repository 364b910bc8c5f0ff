"""
Cross-entropy against squared error for classification
======================================================

A classifier that outputs a probability ``p = sigmoid(z)`` with ``z = x·w`` can be trained on the
cross-entropy ``−y·log p − (1 − y)·log(1 − p)`` (the logistic loss, what
:class:`fastgd.LogisticRegression` minimizes) or on the squared error ``(p − y)²``. Both are smallest
when ``p`` matches ``y``; they differ in what gradient descent sees on the way there. This example
draws both as functions of the margin, then as surfaces over two weights on a tiny dataset.
"""

# %%
# The loss as a function of the margin
# ------------------------------------
# With labels written as ±1 (``s = 2y − 1``), the margin ``m = s·z`` is positive for a correct
# prediction. The cross-entropy is then ``log(1 + exp(−m))`` (:func:`fastgd.losses.log1pexp`) and the
# squared error is ``(1 − sigmoid(m))²``. For a confidently wrong prediction (m ≪ 0) the cross-entropy
# grows linearly, with slope → −1; the squared error flattens at 1 and its slope vanishes: the worst
# samples push least.

import matplotlib.pyplot as plt
import numpy as np

import fastgd
from fastgd import losses

margin = np.linspace(-8, 8, 801)
cross_entropy = losses.log1pexp(-margin)
squared = (1 - losses.sigmoid(margin)) ** 2
slope_cross_entropy = -losses.sigmoid(-margin)  # d/dm log(1 + exp(−m))
p = losses.sigmoid(margin)
slope_squared = -2 * (1 - p) * p * (1 - p)  # d/dm (1 − σ(m))², σ' = σ(1 − σ)

fig, (value_axis, slope_axis) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
value_axis.plot(margin, cross_entropy, label="cross-entropy log(1 + exp(−m))", linewidth=2)
value_axis.plot(margin, squared, label="squared error (1 − σ(m))²", linewidth=2)
value_axis.set(xlabel="margin m = s·z (> 0: correct)", ylabel="loss", title="loss of one sample")
slope_axis.plot(margin, slope_cross_entropy, label="cross-entropy", linewidth=2)
slope_axis.plot(margin, slope_squared, label="squared error", linewidth=2)
slope_axis.set(xlabel="margin m", ylabel="d loss / d m", title="its slope: the push gradient descent gets")
for axis in (value_axis, slope_axis):
    axis.axvline(0, color="gray", linewidth=0.8)
    axis.grid(True, alpha=0.3)
    axis.legend()
plt.show()

for m in (-8.0, -4.0, 0.0):
    k = np.argmin(np.abs(margin - m))
    print(f"margin {m:+.0f}: slope of cross-entropy {slope_cross_entropy[k]:+.4f}, of squared error {slope_squared[k]:+.5f}")

# %%
# The loss surface over two weights
# ---------------------------------
# Twenty points in two overlapping clouds, a model ``z = w1·x1 + w2·x2`` without intercept, and both
# mean losses evaluated on a grid of weights. The mean cross-entropy is convex in w: its Hessian is
# ``Xᵀ·diag(σ(z)(1 − σ(z)))·X / n``, a sum of outer products ``x xᵀ`` with non-negative weights,
# hence positive semi-definite everywhere. The mean squared error of ``sigmoid(z)`` has no such
# structure: far from the origin the sigmoids saturate and the surface turns into flat shelves,
# where the gradient is almost zero although the fit is poor.

rng = np.random.default_rng(3)
n_per_class = 10
X = np.vstack([rng.normal([1.0, 0.5], 0.9, (n_per_class, 2)), rng.normal([-1.0, -0.5], 0.9, (n_per_class, 2))])
y = np.repeat([1.0, 0.0], n_per_class)
sign = 2 * y - 1

w1, w2 = np.meshgrid(np.linspace(-12, 12, 241), np.linspace(-12, 12, 241))
Z = np.stack([w1.ravel(), w2.ravel()], axis=1) @ X.T  # (grid points, samples)
mean_cross_entropy = losses.log1pexp(-sign * Z).mean(axis=1).reshape(w1.shape)
mean_squared = ((losses.sigmoid(Z) - y) ** 2).mean(axis=1).reshape(w1.shape)

# %%
# The minimum of the cross-entropy, found by fastgd (the data overlap, so it is finite):

model = fastgd.LogisticRegression(fit_intercept=False, alpha=0.0, tol=1e-8).fit(X, y)
w_star = model.coef_[0]
print(f"LogisticRegression: w* = {np.round(w_star, 3)}, mean cross-entropy {model.history_['loss'][-1]:.4f}, "
      f"stop reason {model.stop_reason_!r}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
surfaces = {"mean cross-entropy (convex)": mean_cross_entropy,
            "mean squared error of σ(z) (not convex)": mean_squared}
for axis, (title, surface) in zip(axes, surfaces.items()):
    filled = axis.contourf(w1, w2, surface, levels=30, cmap="viridis")
    axis.contour(w1, w2, surface, levels=15, colors="white", linewidths=0.5, alpha=0.6)
    fig.colorbar(filled, ax=axis, label="loss")
    axis.plot(*w_star, "r*", markersize=14, label="cross-entropy minimum w*")
    axis.plot([-10, 10], [10, -10], color="tab:orange", linestyle="--", label="slice drawn below")
    axis.set(title=title, xlabel="w1", ylabel="w2", aspect="equal")
    axis.legend(loc="lower left", fontsize=8)
plt.show()

# %%
# Convexity along a line
# ----------------------
# A function is convex when it is convex along every line. Along the line from w = (−10, 10) to
# (10, −10) (dashed above), the second differences of the cross-entropy are all non-negative; those of
# the squared error change sign: the curve bends down, which a convex function never does.

t = np.linspace(0, 1, 401)
line = np.stack([-10 + 20 * t, 10 - 20 * t], axis=1)
z_line = line @ X.T
slices = {"mean cross-entropy": losses.log1pexp(-sign * z_line).mean(axis=1),
          "mean squared error of σ(z)": ((losses.sigmoid(z_line) - y) ** 2).mean(axis=1)}

fig, axis = plt.subplots(figsize=(8, 4), layout="constrained")
for name, values in slices.items():
    second_difference = np.diff(values, 2)
    print(f"{name}: smallest second difference along the line {second_difference.min():+.2e}")
    axis.plot(line[:, 0], values / values.max(), label=f"{name} (divided by its maximum)", linewidth=2)
axis.set(xlabel="w1 along the line (w2 = −w1)", ylabel="loss / max", title="the two losses along the dashed line")
axis.grid(True, alpha=0.3)
axis.legend()
plt.show()

# %%
# Gradient descent on the squared error can stop on a shelf, such as the left end of this line,
# where the slope is tiny but the classifier is wrong; on the cross-entropy every descent path leads
# to the one minimum, and the slope of a badly misclassified sample never vanishes. That is why logistic
# regression (and the output layer of :class:`fastgd.MLPClassifier`) uses the cross-entropy.
