"""Training curves: loss and gradient norm per epoch, with the stop reason marked."""

import numpy as np

__all__ = ["plot_history"]


def plot_history(model, path=None):
    """Plot a fitted model's training curves: the loss and the gradient norm per epoch.

    Draws two panels on log scales, the loss (the penalized objective) and
    the gradient norm of each epoch (iteration, for L-BFGS), with the last
    epoch marked by the stop reason; the title names the model, the number
    of epochs and the final loss.

    Parameters
    ----------
    model : estimator
        A fitted fastgd estimator, or any object with a ``history_`` dict of
        ``"loss"`` and ``"grad_norm"`` sequences (``stop_reason_``, if it has
        one, labels the last epoch).
    path : str, os.PathLike or None, default=None
        Where to save the figure as a PNG (100 dpi), if given.  Saving first
        switches matplotlib to its non-interactive Agg backend.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, of two axes: the loss and the gradient norm.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "fastgd[plot]"``).
    ValueError
        If the model has no ``history_`` (it is not fitted).

    See Also
    --------
    fastgd.LogisticRegression : Its ``history_`` and ``stop_reason_``.
    fastgd.MLPClassifier : Its ``history_`` also holds per-layer diagnostics.

    Examples
    --------
    >>> from fastgd import LinearRegression, plot_history
    >>> from fastgd.datasets import make_regression
    >>> X, y, w = make_regression(n_samples=200, n_features=3, random_state=0)
    >>> model = LinearRegression(optimizer="sgd", lr=0.1, tol=1e-3).fit(X, y)
    >>> figure = plot_history(model)
    >>> [axis.get_title() for axis in figure.axes]
    ['loss', 'gradient norm']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(figure)
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
