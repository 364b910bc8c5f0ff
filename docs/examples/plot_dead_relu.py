"""
Dead ReLU units
===============

A ReLU unit outputs ``max(0, w·x + b)``. If a step pushes its weights and bias so that ``w·x + b < 0``
for every training sample, the unit outputs 0 everywhere, its derivative is 0 everywhere, and no
gradient ever reaches ``w`` or ``b`` again: the unit is *dead*, and gradient descent cannot revive it.
Large learning rates make such steps more likely.

:class:`fastgd.MLPClassifier` counts them as a by-product of training: for ReLU networks,
``history_["dead_fraction_layer1"]`` is, per epoch, the fraction of the units of hidden layer 1 that
output zero on every sample of the epoch.
"""

# %%
# Three learning rates
# --------------------
# Two interleaved half-moons (600 points), 32 ReLU units, Adam on mini-batches of 32 for 60 epochs
# (``tol=0`` so every fit runs all of them), at three learning rates.

import warnings

import matplotlib.pyplot as plt
import numpy as np

import fastgd

N_UNITS = 32


def two_moons(n, noise, seed):
    """Two interleaved half-circles with Gaussian noise; labels 0 and 1."""
    rng = np.random.default_rng(seed)
    angle, label = rng.uniform(0, np.pi, n), rng.integers(0, 2, n)
    X = np.column_stack([np.cos(angle) + label, np.sin(angle) * (1 - 2 * label) + 0.5 * label])
    return X + noise * rng.standard_normal((n, 2)), label


X, y = two_moons(600, noise=0.15, seed=0)
models = {}
for lr in (0.01, 0.05, 0.1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # tol=0: "max_iter" is the plan
        models[lr] = fastgd.MLPClassifier((N_UNITS,), "relu", optimizer="adam", lr=lr, batch_size=32, max_iter=60,
                                          tol=0.0, random_state=0).fit(X, y)
    dead = models[lr].history_["dead_fraction_layer1"] * N_UNITS
    print(f"lr={lr}: dead units after epoch 1: {dead[0]:.0f}, after epoch 60: {dead[-1]:.0f} of {N_UNITS}; "
          f"loss {models[lr].history_['loss'][0]:.3f} -> {models[lr].history_['loss'][-1]:.3f}, "
          f"training accuracy {models[lr].score(X, y):.3f}; the count never falls: {bool(np.all(np.diff(dead) >= 0))}")

fig, (dead_axis, loss_axis) = plt.subplots(1, 2, figsize=(12, 4.3), layout="constrained")
for lr, model in models.items():
    epochs = np.arange(1, len(model.history_["loss"]) + 1)
    dead_axis.step(epochs, model.history_["dead_fraction_layer1"] * N_UNITS, where="post", label=f"lr = {lr}")
    loss_axis.semilogy(epochs, model.history_["loss"], label=f"lr = {lr}")
dead_axis.set(xlabel="epoch", ylabel=f"dead units (of {N_UNITS})", title="history_['dead_fraction_layer1'] × 32",
              ylim=(0, N_UNITS))
loss_axis.set(xlabel="epoch", ylabel="training loss (log scale)", title="history_['loss']: still falling")
for axis in (dead_axis, loss_axis):
    axis.grid(True, alpha=0.3)
    axis.legend()
plt.show()

# %%
# Five units are dead over the whole first epoch already (with two input features, a unit's line
# ``w·x + b = 0`` easily leaves all the data on its negative side, at initialization or after a few
# steps). More die in the first epochs, the more the larger the rate, and the count never falls: a
# dead unit stays dead. The loss keeps falling all the same, and every fit classifies the training
# data almost perfectly: the live units carry the fit.
#
# What a dead unit looks like
# ---------------------------
# The hidden layer of the network trained at ``lr = 0.1``, recomputed from ``coefs_[0]`` and
# ``intercepts_[0]``: for each unit, the fraction of training samples on which its output is positive.
# A dead unit is active on none of them; its line ``w·x + b = 0`` leaves all the data on its inactive
# side.

model = models[0.1]
W, b = model.coefs_[0], model.intercepts_[0]
active_share = (np.maximum(X @ W + b, 0.0) > 0).mean(axis=0)
dead_now = active_share == 0
print(f"units that output 0 on every training sample with the final parameters: {dead_now.sum()} of {N_UNITS} "
      f"(history_ counted {model.history_['dead_fraction_layer1'][-1] * N_UNITS:.0f} over the last epoch)")

order = np.argsort(-active_share)
fig, axis = plt.subplots(figsize=(10, 3.8), layout="constrained")
colors = np.where(dead_now[order], "tab:red", "tab:blue")
axis.bar(np.arange(N_UNITS), active_share[order], color=colors)
axis.bar(np.flatnonzero(dead_now[order]), 0.01, color="tab:red", label=f"dead: active on no sample ({dead_now.sum()})")
axis.bar([], [], color="tab:blue", label=f"live ({(~dead_now).sum()})")
axis.set(xlabel="hidden unit (sorted)", ylabel="share of samples where output > 0", ylim=(0, 1),
         title="hidden units after training at lr = 0.1")
axis.legend()
plt.show()

# %%
# A zero gradient that is not a minimum
# -------------------------------------
# A dead unit's weights get exactly zero gradient, yet the loss is not at a minimum with respect to
# them: the loss is flat there only because the unit is inactive on every sample, and moving its
# bias far enough up would switch it on, after which it could lower the loss. Gradient descent only
# sees the local slope, which is zero, so it never makes that move. fastgd keeps training through the
# live units; if every unit of a layer dies, the layer passes no gradient at all and ``fit`` warns
# that this zero gradient is not convergence. Lower learning rates, a positive initial bias, or an
# activation with a non-zero slope for negative inputs (``"tanh"``) avoid dead units.
