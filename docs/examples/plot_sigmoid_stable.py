"""
The sigmoid and its stable tails
================================

The textbook formulas ``sigmoid(z) = 1 / (1 + exp(-z))`` and ``softplus(z) = log(1 + exp(z))`` are
exact in real numbers but not in floating point: ``exp`` overflows to ``inf`` beyond z ≈ 709 in
float64, and ``1 + exp(z)`` rounds to exactly 1 once ``exp(z)`` is below half an ulp of 1 (z < -37).
The log-loss of logistic regression is a softplus, so these tails are where a badly classified sample
turns into ``inf`` or ``nan`` and stops training.

:func:`fastgd.losses.sigmoid` and :func:`fastgd.losses.log1pexp` pick, for each sign of z, a formula
that never overflows and never cancels::

    sigmoid(z)  = 1 / (1 + e)   for z ≥ 0,    e / (1 + e)  for z < 0,    with e = exp(−|z|)
    log1pexp(z) = max(z, 0) + log1p(exp(−|z|))
"""

# %%
# Four points in the tails
# ------------------------
# At z = ±40 and ±800 the naive formulas either warn about an overflow, return ``inf``, return
# ``nan`` (``inf / inf``), or lose every digit (``log(1 + 1e-18)`` is ``log(1) = 0``). fastgd's
# kernels return the right value without a warning. The warnings of the naive formulas are recorded
# and printed, not hidden.

import warnings

import matplotlib.pyplot as plt
import numpy as np

from fastgd import losses


def naive_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def naive_sigmoid_ratio(z):
    return np.exp(z) / (1.0 + np.exp(z))


def naive_softplus(z):
    return np.log(1.0 + np.exp(z))


def recording_warnings(function, z):
    """``function(z)`` and the messages of the floating-point warnings it raised."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        value = function(z)
    return value, sorted({str(w.message) for w in caught})


z_tails = np.array([-800.0, -40.0, 40.0, 800.0])
rows = {
    "1/(1+exp(-z))": naive_sigmoid,
    "exp(z)/(1+exp(z))": naive_sigmoid_ratio,
    "fastgd sigmoid": losses.sigmoid,
    "log(1+exp(z))": naive_softplus,
    "fastgd log1pexp": losses.log1pexp,
}
print(f"{'z':>20}" + "".join(f"{z:>12g}" for z in z_tails))
for name, function in rows.items():
    values, messages = recording_warnings(function, z_tails)
    print(f"{name:>20}" + "".join(f"{value:>12.4g}" for value in values) + (f"   warns: {messages}" if messages else ""))

# %%
# What the right answers are: sigmoid(−40) = 4.25e-18 and softplus(−40) = 4.25e-18 (for very
# negative z both are ≈ exp(z)), softplus(40) = 40 and softplus(800) = 800. sigmoid(−800) ≈ 4e-348 is
# below the smallest float64 (4.9e-324), so 0 is the correctly rounded answer there; the naive
# formula gets it only after an overflow warning, and its ratio form returns ``nan`` at +800.
#
# Relative error over the whole range
# -----------------------------------
# The reference values are computed in NumPy's extended precision (``np.longdouble``: 64-bit
# significand and an exponent range up to 1e4932 on x86-64), where ``exp(800)`` does not overflow.
# The relative error ``|computed − reference| / reference`` is drawn on a log axis; an error of exactly
# 0 is drawn at 1e-20 and a result that is ``inf`` or ``nan`` is shaded.

z = np.linspace(-800.0, 800.0, 3201)
z_ext = z.astype(np.longdouble)
exact_sigmoid = np.where(z_ext >= 0, 1 / (1 + np.exp(-z_ext)), np.exp(z_ext) / (1 + np.exp(z_ext)))
exact_softplus = np.maximum(z_ext, 0) + np.log1p(np.exp(-np.abs(z_ext)))
assert np.isfinite(exact_softplus).all(), "np.longdouble has no wider range than float64 on this platform"

ERROR_FLOOR = 1e-20


def relative_error(computed, exact):
    """``|computed − exact| / |exact|`` in float64 (nan where computed is not finite)."""
    with np.errstate(all="ignore"):
        error = np.abs(computed.astype(np.longdouble) - exact) / np.abs(exact)
    error = np.where(np.isfinite(computed), error, np.nan).astype(np.float64)
    return np.maximum(error, ERROR_FLOOR)


with np.errstate(all="ignore"):
    curves = {
        "sigmoid": (exact_sigmoid, {"1/(1+exp(-z))": naive_sigmoid(z), "exp(z)/(1+exp(z))": naive_sigmoid_ratio(z),
                                    "fastgd.losses.sigmoid": losses.sigmoid(z)}),
        "softplus log(1+exp(z))": (exact_softplus, {"log(1+exp(z))": naive_softplus(z),
                                                   "fastgd.losses.log1pexp": losses.log1pexp(z)}),
    }

# compare where the exact value is a normal float64 (above 2.2e-308; below it, precision is lost to underflow)
representable = exact_sigmoid > np.finfo(np.float64).smallest_normal

z_near = np.linspace(-60.0, 60.0, 1201)
with np.errstate(all="ignore"):
    near = {
        "sigmoid": {"1/(1+exp(-z))": naive_sigmoid(z_near), "fastgd.losses.sigmoid": losses.sigmoid(z_near)},
        "softplus log(1+exp(z))": {"log(1+exp(z))": naive_softplus(z_near),
                                   "fastgd.losses.log1pexp": losses.log1pexp(z_near)},
    }

fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained")
colors = {"fastgd": "tab:blue", "1/(1+exp(-z))": "tab:orange", "exp(z)/(1+exp(z))": "tab:green",
          "log(1+exp(z))": "tab:orange"}
for column, title in enumerate(curves):
    value_axis, error_axis = axes[0, column], axes[1, column]
    for label, values in near[title].items():
        fastgd_curve = label.startswith("fastgd")
        value_axis.semilogy(z_near, values, label=label, color=colors["fastgd" if fastgd_curve else label],
                            linewidth=3 if fastgd_curve else 1.5, linestyle="-" if fastgd_curve else "--")
    value_axis.set(title=f"{title} near 0 (log scale: the tails)", xlabel="z", ylabel="value", ylim=(1e-28, 1e3))
    exact, computed = curves[title]
    for label, values in computed.items():
        fastgd_curve = label.startswith("fastgd")
        error_axis.semilogy(z[representable], relative_error(values, exact)[representable], ".", markersize=2.5,
                            label=label, color=colors["fastgd" if fastgd_curve else label])
        bad = ~np.isfinite(values)
        if bad.any():
            error_axis.axvspan(z[bad].min(), z[bad].max(), color="tab:red", alpha=0.15)
            error_axis.text(z[bad].mean(), 1e-9, f"{label} is inf or nan", rotation=90, ha="center", va="center",
                            fontsize=8, color="tab:red")
    error_axis.set(title=f"{title}: relative error, z from −800 to 800", xlabel="z",
                   ylabel=f"relative error (log scale; 0 drawn at {ERROR_FLOOR:g})", ylim=(ERROR_FLOOR / 3, 10))
    for axis in (value_axis, error_axis):
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8, loc="upper left", markerscale=4)
plt.show()

# %%
# The largest relative errors, over the points where the exact value is a normal float64 (above 2.2e-308;
# softplus(z) ≈ sigmoid(z) ≈ exp(z) for very negative z, so the same points for both):

for title, (exact, computed) in curves.items():
    keep = representable
    for label, values in computed.items():
        error = relative_error(values, exact)[keep]
        finite = np.isfinite(error)
        print(f"{label:>24}: max relative error {np.max(error[finite]):9.2e}; non-finite at {np.sum(~finite)} of "
              f"{keep.sum()} points")

# %%
# The stable formulas stay within a few units of float64's rounding (1.1e-16) everywhere. The naive
# sigmoid ``1/(1+exp(−z))`` is accurate wherever the answer is a normal float64: its faults are the
# overflow warning for z < −709 (and 0 instead of a subnormal number between −745 and −709); its ratio
# form returns ``nan`` beyond 709. The naive softplus is off by 100 % for z < −37, where it returns 0,
# and is ``inf`` beyond 709.
#
# The same care is needed in the loss itself: the logistic loss ``log(1 + exp(z)) − y·z`` cancels for
# y = 1 and large z, so :func:`fastgd.losses.logistic_loss_grad` computes each sample's loss and
# derivative from a single ``exp(−|z|)`` with the branch on the sign of z.
