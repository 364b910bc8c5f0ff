"""MLPClassifier and MLPRegressor: fully connected networks trained by backpropagation.

The estimators share the linear models' training (:mod:`fastgd.linear_model`):
the same parameters where they apply, optimizers, schedules, stop rules and
diagnostics.  Mini-batch training runs a whole epoch in compiled code (the
backend's ``network_epoch``: gather, forward, loss, backward, penalty,
clipping and one fused optimizer update of every layer on the flat parameter
vector, the matrix products by BLAS); full-batch and L-BFGS training evaluate
the loss and its gradient by backpropagation in NumPy (:mod:`fastgd.network`,
the reference).  Each class documents its parameters and fitted attributes.
"""

import numbers
import warnings

import numpy as np

from fastgd import _validation as v
from fastgd import network, training
from fastgd._docstrings import fill_doc
from fastgd._sklearn_compat import HAVE_SKLEARN, ClassifierMixin, RegressorMixin, check_is_fitted, validate_data
from fastgd.dask import is_dask_collection
from fastgd.linear_model import LogisticRegression, _DaskScore, _GradientDescentModel

__all__ = ["MLPClassifier", "MLPRegressor"]


def _positive_sizes(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


class _HiddenLayerSizes:
    """A positive int or a tuple/list of positive ints (possibly empty: no hidden layer)."""

    def admit(self, value):
        if _positive_sizes(value):
            return True
        return isinstance(value, (tuple, list)) and all(_positive_sizes(h) for h in value)

    def convert(self, value):
        return (int(value),) if _positive_sizes(value) else tuple(int(h) for h in value)

    def __str__(self):
        return "a positive int or a tuple of positive ints"


class _MLP(_GradientDescentModel):
    """What both MLP estimators share: the network, its problem, its parameters."""

    _fitted_attribute = "coefs_"
    _parameter_constraints = {
        **{k: c for k, c in _GradientDescentModel._parameter_constraints.items() if k != "fit_intercept"},
        "hidden_layer_sizes": [_HiddenLayerSizes()],
        "activation": [v.Options(*network.ACTIVATIONS)],
        "batch_size": [None, v.Options("auto"), v.Interval(numbers.Integral, 1, 2**62, closed="both")],
    }
    fit_intercept = True  # a network always has biases

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, alpha=1e-4, optimizer="adam", lr=None,
                 batch_size="auto", schedule=None, max_iter=200, tol=1e-4, n_iter_no_change=10, clip_norm=None,
                 clip_value=None, early_stopping=False, validation_fraction=0.1, warm_start=False, random_state=None,
                 verbose=0, backend=None, n_threads=None):
        self._keep_parameters(locals())

    def _validate_params(self):
        params = super()._validate_params()
        params["fit_intercept"] = True
        if params["optimizer"] == "lbfgs" and params["batch_size"] == "auto":
            params["batch_size"] = None  # L-BFGS is full batch, as scikit-learn's solver="lbfgs"
        return params

    def _settings(self, params, partial=False):
        settings = super()._settings(params, partial)
        if settings.batch_size == "auto":
            settings.batch_size = min(200, self._n_samples)
        return settings

    def _check_fit_data(self, X, y, sample_weight, reset, finite_x_later=False):
        X, y, sample_weight = super()._check_fit_data(X, y, sample_weight, reset, finite_x_later)
        self._n_samples = X.shape[0]
        return X, y, sample_weight

    def _uses_lbfgs(self, params, partial):
        if params["optimizer"] == "auto":  # for a network, "auto" is Adam
            params = dict(params, optimizer="adam")
        return super()._uses_lbfgs(params, partial)

    def _network(self, n_features):
        sizes = (n_features, *self._validate_params()["hidden_layer_sizes"], self._n_outputs())
        return network.Network(sizes, self.activation, self._output_name())

    def _make_problem(self, X, targets, sample_weight, alpha, decoupled=False, is_training=False):
        if is_dask_collection(X):
            from fastgd.dask import DaskProblem

            return DaskProblem(X, targets, sample_weight, "network", alpha, True, decoupled=decoupled,
                               network=self._network(X.shape[1]), task_threads=self.n_threads or 1)
        return training.NetworkProblem(X, targets, sample_weight, "network", alpha, True, decoupled=decoupled,
                                       network=self._network(X.shape[1]), record=is_training)

    def _compiled_backend(self, settings):
        """Mini-batch epochs run compiled, their threads splitting each batch's rows (BLAS held to one thread);
        full-batch passes are NumPy's matrix products, where BLAS keeps its threads."""
        return "numpy" if settings.batch_size is None else settings.backend

    def _initial_theta(self, X, keep=None):
        keep = (self.warm_start and hasattr(self, "coefs_")) if keep is None else keep
        net = self._network(X.shape[1])
        if keep and [W.shape for W in self.coefs_] == [(a, b) for a, b in zip(net.sizes[:-1], net.sizes[1:])]:
            return np.concatenate([np.ravel(p) for p in (*self.coefs_, *self.intercepts_)]).astype(X.dtype)
        random_state = self.random_state
        if not isinstance(random_state, np.random.RandomState):
            random_state = np.random.RandomState(random_state)
        return net.initial(random_state, X.dtype)

    def _store(self, result, dtype):
        net = self._network(self.n_features_in_)
        weights, biases = net.unpack(result.theta.astype(dtype, copy=True))
        self.coefs_, self.intercepts_ = [W.copy() for W in weights], [b.copy() for b in biases]
        self.n_iter_ = int(result.n_iter)
        self.history_ = result.history
        self.loss_curve_ = list(result.history["loss"])
        self.stop_reason_ = result.stop_reason
        self.out_activation_ = net.output
        self._warn_about_dead_layers()

    def _warn_about_dead_layers(self):
        for name, values in self.history_.items():
            if name.startswith("dead_fraction_layer") and len(values) and values[-1] == 1.0:
                warnings.warn(f"{type(self).__name__}: every unit of hidden layer {name[19:]} outputs zero on every "
                              "sample (dead ReLU units): its gradient is zero, which is not convergence. Lower the "
                              "learning rate, or use another activation.", RuntimeWarning, stacklevel=3)

    def _outputs(self, X):
        """The network's output layer ``Z`` (n, k) on ``X``."""
        check_is_fitted(self)
        X = np.ascontiguousarray(validate_data(self, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=False))
        v.check_finite(X, "X")
        theta = np.concatenate([np.ravel(p) for p in (*self.coefs_, *self.intercepts_)]).astype(X.dtype)
        return self._network(X.shape[1]).forward(X, theta)[-1]


@fill_doc
class MLPClassifier(_DaskScore, ClassifierMixin, _MLP):
    """A multi-layer perceptron classifier trained by backpropagation.

    A fully connected network with ``hidden_layer_sizes`` hidden layers of
    ``activation`` units.  Two classes: one logistic output unit and the
    binary cross-entropy; three or more: a softmax output and the
    cross-entropy.  Minimizes the weighted mean loss plus an L2 penalty on
    every weight matrix,

        f(θ) = Σ_i s_i·l(z_i, y_i) / Σ_i s_i + α/2·Σ_l ‖W_l‖²,

    where z_i is the network's output on x_i, l(z, y) = log(1 + exp(−ỹ·z))
    (ỹ = ±1) for two classes and logsumexp(z) − z[y] for more, and s_i the
    sample weights; the biases are not penalized.  Labels may be any values
    of one type; a 2-D (multilabel) ``y`` is a ``ValueError``.

    Parameters
    ----------
    {hidden_layer_sizes}
    {activation}
    {alpha}
    {network_optimizer}
    {lr}
    {network_batch_size}
    {schedule}
    {max_iter}
    {tol}
    {n_iter_no_change}
    {clip_norm}
    {clip_value}
    {early_stopping}
    {validation_fraction}
    {warm_start}
    {random_state}
    {verbose}
    {backend}
    {n_threads}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; for two classes, the output unit gives the
        probability of ``classes_[1]``.
    {network_fitted}
    {n_iter_}
    {n_features_in_}
    {feature_names_in_}
    {network_history_}
    {stop_reason_}

    See Also
    --------
    MLPRegressor : The same network for regression.
    fastgd.LogisticRegression : A linear classifier (a network without hidden layers).
    fastgd.plot_history : Plot ``history_``.

    Notes
    -----
    {network_notes}

    {fit_notes}

    {dask_notes}

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 2))
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)  # not linearly separable
    >>> model = MLPClassifier(hidden_layer_sizes=(16,), optimizer="lbfgs", tol=1e-3, random_state=0)
    >>> model = model.fit(X, y)
    >>> [W.shape for W in model.coefs_], model.out_activation_, model.stop_reason_
    ([(2, 16), (16, 1)], 'logistic', 'converged')
    >>> model.score(X, y)
    1.0
    >>> model.predict_proba(X[:2]).round(2)
    array([[1.  , 0.  ],
           [0.01, 0.99]])
    """

    _loss = "log_loss"

    def _check_fit_data(self, X, y, sample_weight, reset, finite_x_later=False):
        shape = y.shape if is_dask_collection(y) else np.shape(np.asarray(y))
        if len(shape) == 2 and shape[1] > 1:
            raise ValueError(f"MLPClassifier needs a 1-D y of class labels; got shape {shape} (multilabel "
                             "targets are not supported)")
        return super()._check_fit_data(X, y, sample_weight, reset, finite_x_later)

    def _prepare_targets(self, X, y, sample_weight, partial, classes=None):
        return LogisticRegression._prepare_targets(self, X, y, sample_weight, partial, classes)

    _classes_of_call = LogisticRegression._classes_of_call
    _class_weights = LogisticRegression._class_weights
    _validation_rows = LogisticRegression._validation_rows
    class_weight = None

    def _n_outputs(self):
        return len(self.classes_) if len(self.classes_) > 2 else 1

    def _output_name(self):
        return "logistic" if len(self.classes_) == 2 else "softmax"

    @fill_doc
    def predict_proba(self, X):
        """Estimate the probability of each class for each sample.

        Two classes: [1 − σ(z), σ(z)] with σ(z) = 1/(1 + exp(−z)) of the
        output unit z; three or more: softmax(z)_c = exp(z_c) / Σ_j exp(z_j).
        Computed in float64, without overflow.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray or dask.array.Array of shape (n_samples, n_classes)
            The probabilities (float64), a column per class of ``classes_``;
            each row sums to 1.

        See Also
        --------
        predict : The most probable class.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd import MLPClassifier
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = MLPClassifier(hidden_layer_sizes=(4,), alpha=0.1, optimizer="lbfgs", tol=1e-2, random_state=0)
        >>> model = model.fit(X, y)
        >>> model.predict_proba(X[:2]).round(2)
        array([[0.4 , 0.6 ],
               [0.27, 0.73]])
        >>> bool(np.allclose(model.predict_proba(X).sum(axis=1), 1.0))
        True
        """
        if is_dask_collection(X):
            return self._on_dask(self.predict_proba, X, len(self.classes_), np.float64)
        Z = self._outputs(X).astype(np.float64)
        if Z.shape[1] == 1:
            p = 0.5 * (1 + np.tanh(0.5 * Z[:, 0]))
            return np.column_stack([1 - p, p])
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        return Z / Z.sum(axis=1, keepdims=True)

    @fill_doc
    def predict(self, X):
        """Predict the class label of each sample: the most probable class.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray or dask.array.Array of shape (n_samples,)
            Labels from ``classes_`` (of its dtype).

        See Also
        --------
        predict_proba : The probability of each class.
        score : The accuracy of the labels.

        Examples
        --------
        >>> from fastgd import MLPClassifier
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = MLPClassifier(hidden_layer_sizes=(4,), alpha=0.1, optimizer="lbfgs", tol=1e-2, random_state=0)
        >>> model = model.fit(X, y)
        >>> model.classes_, model.predict(X[:4])
        (array([0., 1.]), array([1., 1., 0., 1.]))
        """
        if is_dask_collection(X):
            return self._on_dask(self.predict, X, None, self.classes_.dtype)
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


@fill_doc
class MLPRegressor(_DaskScore, RegressorMixin, _MLP):
    """A multi-layer perceptron regressor trained by backpropagation.

    A fully connected network with ``hidden_layer_sizes`` hidden layers of
    ``activation`` units and an identity output, one unit per target.
    Minimizes the weighted mean of half the squared error, averaged over the
    k targets, plus an L2 penalty on every weight matrix,

        f(θ) = Σ_i s_i·(Σ_c (z_ic − y_ic)²/(2k)) / Σ_i s_i + α/2·Σ_l ‖W_l‖²,

    where z_i is the network's output on x_i and s_i the sample weights; the
    biases are not penalized.  ``y`` may have several columns.

    Parameters
    ----------
    {hidden_layer_sizes}
    {activation}
    {alpha}
    {network_optimizer}
    {lr}
    {network_batch_size}
    {schedule}
    {max_iter}
    {tol}
    {n_iter_no_change}
    {clip_norm}
    {clip_value}
    {early_stopping}
    {validation_fraction}
    {warm_start}
    {random_state}
    {verbose}
    {backend}
    {n_threads}

    Attributes
    ----------
    {network_fitted}
    {n_iter_}
    {n_features_in_}
    {feature_names_in_}
    {network_history_}
    {stop_reason_}

    See Also
    --------
    MLPClassifier : The same network for classification.
    fastgd.LinearRegression : A linear regressor (a network without hidden layers).
    fastgd.plot_history : Plot ``history_``.

    Notes
    -----
    {network_notes}

    {fit_notes}

    {dask_notes}

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, (300, 1))
    >>> y = np.sin(X[:, 0])
    >>> model = MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", optimizer="lbfgs", tol=1e-3,
    ...                      random_state=0)
    >>> model = model.fit(X, y)
    >>> model.stop_reason_, round(model.score(X, y), 3)
    ('converged', 0.999)
    >>> model.predict(np.array([[0.5], [1.0]])).round(2)
    array([0.51, 0.84])
    """

    _loss = "squared_error"

    if HAVE_SKLEARN:  # the stand-in mixins have no tags

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.target_tags.multi_output = True
            return tags

    def _prepare_targets(self, X, y, sample_weight, partial, **kwargs):
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if is_dask_collection(y):
            from fastgd import dask as fdask

            self._n_targets = 1 if y.ndim == 1 else y.shape[1]
            y, _ = fdask.finite_targets(y if y.ndim == 2 else y[:, None], X.dtype)
            return y, sample_weight
        y = np.asarray(y)
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape ({X.shape[0]},) or ({X.shape[0]}, n_targets); got {y.shape}")
        self._n_targets = 1 if y.ndim == 1 else y.shape[1]
        y = v.as_float_array(y.reshape(len(y), -1), "y", ndim=2, dtype=X.dtype)
        v.check_finite(y, "y")
        return y, sample_weight

    def _n_outputs(self):
        return self._n_targets

    def _output_name(self):
        return "identity"

    def _check_fit_data(self, X, y, sample_weight, reset, finite_x_later=False):
        if is_dask_collection(X):
            X, y, sample_weight = self._check_dask_fit_data(X, y, sample_weight, reset, not finite_x_later,
                                                            y_columns=True)
            self._n_samples = X.shape[0]
            return X, y, sample_weight
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], accept_sparse=False,
                             y_numeric=True, multi_output=True, ensure_all_finite=not finite_x_later)
        X = np.ascontiguousarray(X)
        self._n_samples = X.shape[0]
        return X, y, v.check_sample_weight(sample_weight, length=X.shape[0], dtype=X.dtype)

    @fill_doc
    def predict(self, X):
        """Predict the targets of each sample: the network's output.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray or dask.array.Array of shape (n_samples,) or (n_samples, n_targets)
            The predictions in X's floating dtype: a vector for a single
            target, a column per target for several.

        See Also
        --------
        {regressor_predict_see_also}

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd import MLPRegressor
        >>> from fastgd.datasets import make_regression
        >>> X, y, w = make_regression(200, 3, noise=0.1, signal=1.0, random_state=0)
        >>> model = MLPRegressor(hidden_layer_sizes=(4,), alpha=0.1, optimizer="lbfgs", tol=1e-2, random_state=0)
        >>> model = model.fit(X, y)
        >>> model.predict(X[:3]).round(1), y[:3].round(1)
        (array([ 0.4,  0.8, -0.8]), array([ 0.7,  0.8, -0.9]))

        Several targets, a column each:

        >>> model = model.fit(X, np.column_stack([y, -y]))
        >>> model.predict(X[:3]).shape
        (3, 2)
        """
        if is_dask_collection(X):
            single = self.coefs_[-1].shape[1] == 1 and self._n_targets == 1
            return self._on_dask(self.predict, X, None if single else self.coefs_[-1].shape[1])
        Z = self._outputs(X)
        return Z[:, 0] if self.coefs_[-1].shape[1] == 1 and self._n_targets == 1 else Z
