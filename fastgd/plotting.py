"""Training curves: loss and gradient norm per epoch, with the stop reason marked."""

import numpy as np

__all__ = ["plot_history"]


def plot_history(model, path=None):
    """Draw ``model.history_`` (loss and gradient norm per epoch, log scale).

    ``model`` is a fitted fastgd estimator (or anything with ``history_`` and
    ``stop_reason_``).  Saves a PNG to ``path`` when given; returns the matplotlib
    figure.  Needs matplotlib (``pip install "fastgd[plot]"``).
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('plot_history needs matplotlib: pip install "fastgd[plot]"') from exc
    history = getattr(model, "history_", None)
    if history is None:
        raise ValueError("the model has no history_: fit it first")
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (loss_axis, grad_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss = np.asarray(history["loss"])
    loss_axis.semilogy(epochs, loss)
    loss_axis.set(xlabel="epoch", ylabel="loss (penalized objective)", title="loss")
    grad_axis.semilogy(epochs, history["grad_norm"], color="tab:orange")
    grad_axis.set(xlabel="epoch", ylabel="||gradient||", title="gradient norm")
    reason = getattr(model, "stop_reason_", "unknown")
    for axis in (loss_axis, grad_axis):
        axis.axvline(epochs[-1], color="gray", linestyle="--")
        axis.annotate(f"stop: {reason}", xy=(epochs[-1], 0.95), xycoords=("data", "axes fraction"), ha="right")
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle(f"{type(model).__name__}: {len(epochs)} epochs, final loss {loss[-1]:.6g}")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
