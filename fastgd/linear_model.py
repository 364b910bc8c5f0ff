"""LinearRegression and LogisticRegression: linear models trained by gradient descent or L-BFGS.

Both minimize the weighted mean loss plus α/2·‖w‖² (scikit-learn's SGD
convention; the intercept is not penalized) with the fused compiled kernels,
and follow scikit-learn's estimator conventions: the constructor stores
parameters only, ``fit`` checks them (``_parameter_constraints``) and returns
``self``, fitted attributes end in ``_``.  With scikit-learn installed they
are genuine scikit-learn estimators.  Each class documents its parameters,
the choice of optimizer and the fitted attributes.
"""

import copy
import numbers
from contextlib import contextmanager

import numpy as np

from fastgd import _validation as v
from fastgd import optim
from fastgd import schedules as sch
from fastgd import training
from fastgd._docstrings import fill_doc
from fastgd._sklearn_compat import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    check_is_fitted,
    validate_data,
)
from fastgd.backends import BACKEND_ORDER, raw_kernels
from fastgd.dask import is_dask_collection

__all__ = ["LinearRegression", "LogisticRegression", "EXPECTED_FAILED_CHECKS"]

# Every declared optimizer of fastgd.optim, by its lowercase name.
OPTIMIZERS = {name.lower(): getattr(optim, name) for name in optim.__all__ if name != "Optimizer"}

# scikit-learn's check_estimator: checks expected to fail, with their reasons.  None
# today: the sample-weight equivalence check that scikit-learn marks as an expected
# failure for its own LogisticRegression and SGD estimators passes here (lbfgs).
EXPECTED_FAILED_CHECKS = {}

_INT_FROM_1 = v.Interval(numbers.Integral, 1, None, closed="left")
HELD_OUT_BLOCK = 1024  # held-out rows gathered at a time to compute the validation loss


class _DaskScore:
    """``score`` on Dask inputs computed on the workers: accuracy for classifiers, R^2 for regressors (first among
    an estimator's bases, before scikit-learn's mixin, which it calls for other inputs)."""

    @fill_doc
    def score(self, X, y, sample_weight=None):
        """Score the predictions on X against y: accuracy for a classifier, R² for a regressor.

        A classifier's score is the weighted fraction of rows whose ``predict``
        equals ``y`` (scikit-learn's ``accuracy_score``).  A regressor's is the
        coefficient of determination of ``predict(X)``,
        R² = 1 − Σ_i s_i·(y_i − ŷ_i)² / Σ_i s_i·(y_i − ȳ)² with ȳ the weighted
        mean of y (scikit-learn's ``r2_score``; for several targets, the mean of
        their R²).  On Dask inputs both are computed on the workers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dask collection
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True class labels (classifiers) or target values (regressors).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights s_i of the rows; None: all 1.

        Returns
        -------
        float
            The accuracy, in [0, 1], or R², at most 1 (1 for exact predictions,
            0 for always predicting the mean, negative for worse).

        See Also
        --------
        predict : The predictions that are scored.
        fit : Train the estimator.

        Examples
        --------
        {shared_method_example}
        With ``LogisticRegression`` (an accuracy) and ``LinearRegression`` (an R²):

        >>> from fastgd import LinearRegression, LogisticRegression
        >>> from fastgd.datasets import make_classification, make_regression
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> round(LogisticRegression().fit(X, y).score(X, y), 2)  # accuracy
        0.87
        >>> X, y, w = make_regression(200, 3, noise=0.1, random_state=0)
        >>> round(LinearRegression().fit(X, y).score(X, y), 3)  # R²
        0.999
        """
        if not (is_dask_collection(X) or is_dask_collection(y)):
            return super().score(X, y, sample_weight)
        from fastgd import dask as fdask

        scorer = fdask.accuracy_score if self._loss == "log_loss" else fdask.r2_score
        return scorer(y, self.predict(X), sample_weight)


class _GradientDescentModel(BaseEstimator):
    """Shared by both estimators: parameter checks, the fit loop, prediction."""

    _loss = None
    _fitted_attribute = "coef_"  # set by fit: a partial_fit after it continues
    _parameter_constraints = {
        "alpha": [v.NON_NEGATIVE],
        "fit_intercept": [v.Boolean()],
        "optimizer": [v.Options("auto", "lbfgs", *OPTIMIZERS), v.InstanceOf(optim.Optimizer, "a fastgd.optim optimizer")],
        "lr": [None, v.POSITIVE],
        "batch_size": [None, v.Interval(numbers.Integral, 1, 2**62, closed="both")],
        "schedule": [None, v.POSITIVE, v.InstanceOf(sch.AdaptiveRule, "an adaptive rule"),
                     v.InstanceOf(callable, "a callable epoch -> lr")],
        "max_iter": [_INT_FROM_1],
        "tol": [v.NON_NEGATIVE],
        "n_iter_no_change": [_INT_FROM_1],
        "clip_norm": [None, v.POSITIVE],
        "clip_value": [None, v.POSITIVE],
        "early_stopping": [v.Boolean()],
        "validation_fraction": [v.Interval(numbers.Real, 0, 1, closed="neither")],
        "warm_start": [v.Boolean()],
        "random_state": [None, v.Interval(numbers.Integral, 0, 2**32 - 1, closed="both"),
                         v.InstanceOf(np.random.RandomState, "a numpy.random.RandomState")],
        "verbose": [v.Boolean(), v.Interval(numbers.Integral, 0, None, closed="left")],
        "backend": [None, v.Options(*BACKEND_ORDER)],
        "n_threads": [None, v.Interval(numbers.Integral, 1, 2**31 - 1, closed="both")],
    }

    def __init__(self, *, alpha=1e-4, fit_intercept=True, optimizer="auto", lr=None, batch_size=None, schedule=None,
                 max_iter=1000, tol=1e-4, n_iter_no_change=5, clip_norm=None, clip_value=None, early_stopping=False,
                 validation_fraction=0.1, warm_start=False, random_state=None, verbose=0, backend=None, n_threads=None):
        self._keep_parameters(locals())

    def _keep_parameters(self, values):
        """Store the constructor's arguments as attributes (scikit-learn: a constructor does nothing else)."""
        for name, value in values.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # -- checks ------------------------------------------------------------------------------
    def _validate_params(self):
        """Every parameter against ``_parameter_constraints``; the checked values, converted."""
        return v.validate_parameters(type(self).__name__, self.get_params(deep=False), self._parameter_constraints)

    def _settings(self, params, partial=False):
        random_state = params["random_state"]
        if isinstance(random_state, np.random.RandomState):
            random_state = random_state.randint(2**31)
        raw_kernels(params["backend"])  # a clear error for a backend that cannot load here
        return training.Settings(
            max_iter=1 if partial else params["max_iter"], tol=params["tol"],
            n_iter_no_change=params["n_iter_no_change"], batch_size=params["batch_size"], backend=params["backend"],
            n_threads=v.check_n_threads(params["n_threads"]), verbose=int(params["verbose"]),
            random_state=random_state, owner=type(self).__name__, warn_at_max_iter=not partial,
        )

    def _uses_lbfgs(self, params, partial):
        """The documented rule of ``optimizer="auto"``; an impossible request for ``"lbfgs"`` is refused."""
        first_order_needs = {
            "partial_fit": partial, "a batch_size": params["batch_size"] is not None,
            "a schedule": params["schedule"] is not None, "early_stopping": params["early_stopping"],
        }
        if params["optimizer"] == "lbfgs":
            conflicts = [what for what, present in first_order_needs.items() if present]
            if conflicts:
                raise ValueError(f"optimizer='lbfgs' is full-batch and has no learning rate, so it cannot honour "
                                 f"{' or '.join(conflicts)}; use optimizer='auto' or a first-order optimizer")
            return True
        return params["optimizer"] == "auto" and not any(first_order_needs.values())

    def _first_order_optimizer(self, params):
        """A fresh optimizer from the ``optimizer`` parameter (objects are copied); Adam for ``"auto"``."""
        spec = params["optimizer"]
        if isinstance(spec, optim.Optimizer):
            if spec.weight_decay:
                raise ValueError(
                    f"the optimizer object has weight_decay={spec.weight_decay}; the estimators' only penalty is "
                    "alpha (objective mean loss + alpha/2 ||w||^2): set weight_decay=0 and use alpha"
                )
            opt = copy.deepcopy(spec)
            opt.reset_state()
        else:
            opt = OPTIMIZERS["adam" if spec == "auto" else spec]()
        if params["lr"] is not None:
            opt.lr = params["lr"]
        for name in ("clip_norm", "clip_value", "backend", "n_threads"):
            if params[name] is not None:
                setattr(opt, name, params[name])
        if opt.decouples_weight_decay:
            opt.weight_decay = params["alpha"]
        return opt

    def _schedule(self, opt, params, settings):
        """The schedule object: the parameter, or the default for this kind of training."""
        if params["schedule"] is None:
            if settings.batch_size is None:
                return sch.Constant(opt.lr)
            # mini-batch gradients are noisy: divide the rate by 5 when the loss stops improving
            return sch.ReduceLROnPlateau(opt.lr, factor=0.2, patience=max(settings.n_iter_no_change - 2, 0),
                                         threshold=settings.tol, min_lr=opt.lr * 1e-3)
        return copy.deepcopy(sch.as_schedule(params["schedule"]))

    def _check_fit_data(self, X, y, sample_weight, reset, finite_x_later=False):
        """``(X, y, sample_weight)`` checked and converted.  ``finite_x_later``: NaN and infinity in X are looked
        for only when training meets a non-finite value (:meth:`fastgd.training.Problem.check_finite`), which
        saves ``fit`` a pass over X; ``partial_fit`` looks first, as its epoch changes the optimizer's state.
        A Dask X gives row-chunked Dask arrays (:mod:`fastgd.dask`); a Dask y or weight vector with NumPy X is
        computed (a vector, not X)."""
        if is_dask_collection(X):
            return self._check_dask_fit_data(X, y, sample_weight, reset, check_x=not finite_x_later)
        y, sample_weight = (value.compute() if is_dask_collection(value) else value for value in (y, sample_weight))
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], accept_sparse=False,
                             y_numeric=self._loss == "squared_error", ensure_all_finite=not finite_x_later)
        X = np.ascontiguousarray(X)
        sample_weight = v.check_sample_weight(sample_weight, length=X.shape[0], dtype=X.dtype)
        return X, y, sample_weight

    def _check_dask_fit_data(self, X, y, sample_weight, reset, check_x, y_columns=False):
        """Dask X, y and weights checked and aligned (:mod:`fastgd.dask`); ``y_columns``: y may be (n, k)."""
        from fastgd import dask as fdask

        X = fdask.as_row_chunked(X)
        self._check_n_features(X.shape[1], reset)
        if check_x:  # partial_fit: a pass over X on the workers before the optimizer's state changes
            fdask.check_finite(X)
        return X, fdask.aligned_vector(y, X, "y", allow_columns=y_columns), fdask.check_sample_weight(sample_weight, X)

    def _check_n_features(self, n_features, reset):
        """Record ``n_features_in_`` (``reset``) or check X against it, as scikit-learn's ``validate_data``."""
        if reset:
            self.n_features_in_ = n_features
        elif n_features != getattr(self, "n_features_in_", n_features):
            raise ValueError(f"X has {n_features} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")

    # -- fitting -----------------------------------------------------------------------------
    @fill_doc
    def fit(self, X, y, sample_weight=None):
        """Fit the model to the training data X and y.

        Training starts afresh (zero coefficients for a linear model, random
        weights for a network) or, with ``warm_start``, from the previous
        fit's parameters, and runs until a stop rule ends it
        (``stop_reason_``); ``optimizer`` decides how it steps.  A fit that
        raises leaves the estimator as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dask collection
            Training samples.  float32 data trains in float32 (the fitted
            parameters take X's dtype), float64 in float64; integers and
            booleans are converted to float64.  A Dask array or Dask DataFrame
            trains on the workers (see the class's Notes).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets: class labels for a classifier (values of one type, at
            least two classes), real values for a regressor (several columns
            for ``MLPRegressor`` only).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights s_i of the samples, not all 0: the loss is
            the weighted mean Σ_i s_i·l_i / Σ_i s_i.  None: all 1.  A
            classifier multiplies them by its ``class_weight``.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For a parameter outside its allowed values (that error is also a
            ``TypeError``), ``optimizer="lbfgs"`` with a ``batch_size``,
            ``schedule`` or ``early_stopping``, ``early_stopping`` with a Dask
            X, an optimizer object whose ``weight_decay`` is not 0, NaN or
            infinity in the data, inputs of different lengths, negative
            weights or weights that are all 0, and for a classifier
            continuous targets, a single class or labels of mixed types.
        TypeError
            For sparse X (pass a dense array).
        ImportError
            For a ``backend`` that cannot load here.

        Warns
        -----
        ConvergenceWarning
            When the fit reached ``max_iter``, stalled while the gradient norm
            was still above 100·tol, or ended worse than it started.
        RuntimeWarning
            When training diverged (the best parameters seen are kept), or
            when every unit of a ReLU network's hidden layer outputs zero.

        See Also
        --------
        partial_fit : Train one epoch at a time.
        predict : Predict with the fitted model.
        score : Score its predictions on test data.

        Examples
        --------
        {shared_method_example}
        The example uses ``LogisticRegression``:

        >>> from fastgd import LogisticRegression
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = LogisticRegression(tol=1e-4).fit(X, y)
        >>> model.coef_.shape, model.stop_reason_
        ((1, 3), 'converged')
        >>> len(model.history_["loss"]) == model.n_iter_
        True
        """
        params = self._validate_params()
        with _unchanged_on_failure(self):
            X, y, sample_weight = self._check_fit_data(X, y, sample_weight, reset=True, finite_x_later=True)
            targets, sample_weight = self._prepare_targets(X, y, sample_weight, partial=False)
            settings = self._settings(params)
            theta = self._initial_theta(X)
            validation = None
            if params["early_stopping"]:
                if is_dask_collection(X):
                    raise ValueError("early_stopping is not available for Dask inputs: hold out a validation set "
                                     "yourself and compare the models' score on it")
                sample_weight, validation = self._hold_out(X, targets, sample_weight, settings)
            opt = None if self._uses_lbfgs(params, partial=False) else self._first_order_optimizer(params)
            result = self._train(X, targets, sample_weight, params, settings, theta, opt, validation)
        self._optimizer = opt
        self._store(result, X.dtype)
        return self

    @fill_doc
    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """Train one epoch on X and y, continuing from the current parameters.

        The first call starts afresh (zeros, or a network's random weights);
        later calls, and a call after ``fit``, continue from the fitted
        parameters and the optimizer's state (a new optimizer after an L-BFGS
        fit).  Each call runs one epoch of the first-order ``optimizer``
        (Adam for ``"auto"``) at the optimizer's current rate: one full-batch
        step, or the mini-batches of ``batch_size``.  ``schedule``,
        ``early_stopping``, ``warm_start`` and the stop rules do not apply; the
        divergence guard does.  NaN and infinity in X are looked for before
        the step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dask collection
            Training samples, of the same number of features on every call.
            float32 data trains in float32, float64 in float64; integers and
            booleans are converted to float64.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets: class labels for a classifier (among ``classes``), real
            values for a regressor (several columns for ``MLPRegressor``
            only).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights s_i of the samples, not all 0; None: all 1.
        **kwargs
            Only ``classes`` (classifiers, by keyword): an array-like of every
            class label, required on the first call and, when given later,
            equal to ``classes_``.  A regressor takes no keyword argument.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            As ``fit``; also for ``optimizer="lbfgs"``, a classifier's first
            call without ``classes``, ``classes`` that differ from the first
            call's or do not hold every label of y, and a number of features
            that differs from the first call's.
        TypeError
            For a keyword argument other than a classifier's ``classes``.

        See Also
        --------
        fit : Train until a stop rule ends the run.
        predict : Predict with the updated model.
        score : Score its predictions on test data.

        Examples
        --------
        {shared_method_example}
        The example uses ``LogisticRegression``, whose first call names every
        class (a regressor's takes no ``classes``):

        >>> from fastgd import LogisticRegression
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = LogisticRegression(lr=0.1)
        >>> for epoch in range(20):
        ...     model = model.partial_fit(X, y, classes=[0, 1])
        >>> model.n_iter_, model.stop_reason_
        (1, 'max_iter')
        >>> round(model.score(X, y), 2)
        0.89
        """
        params = self._validate_params()
        self._uses_lbfgs(params, partial=True)  # refuses "lbfgs"
        first_call = not hasattr(self, self._fitted_attribute)
        X, y, sample_weight = self._check_fit_data(X, y, sample_weight, reset=first_call)
        targets, sample_weight = self._prepare_targets(X, y, sample_weight, partial=True, **kwargs)
        settings = self._settings(params, partial=True)
        if first_call or getattr(self, "_optimizer", None) is None:
            self._optimizer = self._first_order_optimizer(params)
        theta = self._initial_theta(X, keep=not first_call)
        opt = self._optimizer
        result = self._train(X, targets, sample_weight, params, settings, theta, opt, None, sch.Constant(opt.lr))
        self._store(result, X.dtype)
        return self

    def _train(self, X, targets, sample_weight, params, settings, theta, opt, validation, schedule=None):
        decoupled = opt is not None and opt.decouples_weight_decay
        problem = self._make_problem(X, targets, sample_weight, params["alpha"], decoupled=decoupled, is_training=True)
        if opt is not None and schedule is None:
            schedule = self._schedule(opt, params, settings)
        with training.blas_held_to_one_thread(self._compiled_backend(settings)):
            return training.train(problem, theta, settings, opt, schedule, validation)

    def _compiled_backend(self, settings):
        """The backend whose compiled kernels do the work (BLAS is then held to one thread)."""
        return settings.backend

    def _make_problem(self, X, targets, sample_weight, alpha, decoupled=False, is_training=False):
        """The :class:`fastgd.training.Problem` of this model on ``(X, targets)``."""
        loss = "multinomial" if self._n_outputs() > 1 else self._loss
        if is_dask_collection(X):
            from fastgd.dask import DaskProblem

            return DaskProblem(X, targets, sample_weight, loss, alpha, bool(self.fit_intercept), decoupled=decoupled,
                               n_classes=self._n_outputs(), task_threads=self.n_threads or 1)
        return training.Problem(X, targets, sample_weight, loss, alpha, bool(self.fit_intercept),
                                decoupled=decoupled, n_classes=self._n_outputs())

    def _n_outputs(self):
        """Columns of the weight matrix (and intercepts): 1 but for multinomial models."""
        return 1

    def _initial_theta(self, X, keep=None):
        """``[W (d, k) row-major, b (k)]``: zeros, or the fitted ``coef_`` (k, d) and ``intercept_``."""
        keep = (self.warm_start and hasattr(self, "coef_")) if keep is None else keep
        k, d = self._n_outputs(), X.shape[1]
        theta = np.zeros(d * k + k, dtype=X.dtype)
        if keep and np.size(self.coef_) == d * k:
            theta[:d * k] = np.asarray(self.coef_).reshape(k, d).T.ravel()
            theta[d * k:] = np.ravel(self.intercept_) if self.fit_intercept else 0.0
        return theta

    def _hold_out(self, X, targets, sample_weight, settings):
        """Zero the weights of a held-out validation set (no copy of X); return its loss function."""
        rng = np.random.default_rng(settings.random_state)
        held = self._validation_rows(targets, rng)
        weights = np.ones(X.shape[0], dtype=X.dtype) if sample_weight is None else sample_weight.copy()
        held_weights = weights[held]
        weights[held] = 0
        if not weights.any() or not held_weights.any():
            raise ValueError("early_stopping needs samples with positive weight in both the training and the validation set")
        backend = raw_kernels(settings.backend)

        def validation_loss(theta):
            """The weighted mean loss on the held-out rows, gathered a block at a time (no copy of X)."""
            grad, loss_sum, weight_sum = np.empty_like(theta), 0.0, 0.0
            for start in range(0, len(held), HELD_OUT_BLOCK):
                rows, block_weights = held[start:start + HELD_OUT_BLOCK], held_weights[start:start + HELD_OUT_BLOCK]
                weight = float(np.sum(block_weights, dtype=np.float64))
                if weight > 0:
                    problem = self._make_problem(X[rows], targets[rows], block_weights, 0.0)
                    loss_sum += training.objective(backend, problem, theta, grad, settings.n_threads) * weight
                    weight_sum += weight
            return loss_sum / weight_sum

        return weights, validation_loss

    def _validation_rows(self, targets, rng):
        n_held = max(1, int(round(self.validation_fraction * len(targets))))
        if n_held >= len(targets):
            raise ValueError(f"validation_fraction={self.validation_fraction} leaves no training samples")
        return np.sort(rng.permutation(len(targets))[:n_held])

    def _store(self, result, dtype):
        k = self._n_outputs()
        d = (result.theta.shape[0] - k) // k
        coef = result.theta[:d * k].reshape(d, k).T.astype(dtype, copy=True)  # (k, d)
        intercept = result.theta[d * k:].astype(dtype, copy=True) if self.fit_intercept else np.zeros(k, dtype)
        self._set_coef(coef, intercept, dtype)
        self.n_iter_ = int(result.n_iter)
        self.history_ = result.history
        self.stop_reason_ = result.stop_reason

    # -- prediction --------------------------------------------------------------------------
    def _on_dask(self, method, X, columns, dtype=None):
        """``method`` applied to each row block of the Dask collection X, lazily (:func:`fastgd.dask.map_rows`);
        ``dtype`` None: X's floating type (float32 kept, else float64)."""
        from fastgd import dask as fdask

        check_is_fitted(self)
        if dtype is None:
            dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
        return fdask.map_rows(method, X, self.n_features_in_, columns, dtype)

    def _linear(self, X):
        """``X coef_^T + intercept_`` (n, k) in X's dtype, one kernel pass per output."""
        check_is_fitted(self)
        X = np.ascontiguousarray(validate_data(self, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=False))
        coef = np.asarray(self.coef_, dtype=X.dtype).reshape(-1, X.shape[1])
        intercept = np.ravel(self.intercept_)
        out = np.empty((coef.shape[0], X.shape[0]), dtype=X.dtype)
        kernel, n_threads = raw_kernels(self.backend).linear_predict, v.check_n_threads(self.n_threads)
        for c in range(coef.shape[0]):
            kernel(X, np.ascontiguousarray(coef[c]), float(intercept[c]), out[c], n_threads=n_threads)
        return out.T


@fill_doc
class LinearRegression(_DaskScore, RegressorMixin, _GradientDescentModel):
    """Linear least squares with an L2 penalty, trained by L-BFGS or gradient descent.

    Minimizes the weighted mean of half the squared errors plus an L2 penalty
    on the coefficients (ridge regression):

        f(w, b) = Σ_i s_i·(x_i·w + b − y_i)²/2 / Σ_i s_i + α/2·‖w‖²,

    with sample weights s_i (all 1 by default); the intercept b is not
    penalized.  By default a full-batch fit runs L-BFGS to the optimum;
    ``batch_size``, ``schedule``, ``early_stopping`` or a first-order
    ``optimizer`` train by gradient descent instead, and ``partial_fit``
    trains one epoch at a time.

    Parameters
    ----------
    {alpha}
    {fit_intercept}
    {optimizer}
    {lr}
    {batch_size}
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
    coef_ : ndarray of shape (n_features,)
        The coefficients w, in X's floating dtype.
    intercept_ : float
        The intercept b (0.0 when ``fit_intercept`` is False).
    {n_iter_}
    {n_features_in_}
    {feature_names_in_}
    {history_}
    {stop_reason_}

    See Also
    --------
    LogisticRegression : The same training for classification.
    fastgd.MLPRegressor : A neural network regressor.
    fastgd.plot_history : Plot ``history_``.

    Notes
    -----
    {fit_notes}

    {dask_notes}

    Examples
    --------
    >>> from fastgd import LinearRegression
    >>> from fastgd.datasets import make_regression
    >>> X, y, w = make_regression(n_samples=200, n_features=3, noise=0.1, random_state=0)
    >>> model = LinearRegression().fit(X, y)
    >>> model.stop_reason_
    'converged'
    >>> model.coef_.round(2), round(model.intercept_, 2)
    (array([-1.93, -2.27, -0.38]), 0.5)
    >>> round(model.score(X, y), 3)
    0.999

    Mini-batch SGD, one epoch per call:

    >>> online = LinearRegression(optimizer="sgd", lr=0.05, batch_size=20, random_state=0)
    >>> for _ in range(10):
    ...     online = online.partial_fit(X, y)
    >>> online.coef_.round(1)
    array([-1.9, -2.3, -0.4])
    """

    _loss = "squared_error"

    def _prepare_targets(self, X, y, sample_weight, partial, **kwargs):
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if is_dask_collection(y):
            from fastgd import dask as fdask

            y, largest = fdask.finite_targets(y, X.dtype)
        else:
            y = v.as_float_array(y, "y", ndim=1, dtype=X.dtype)
            v.check_finite(y, "y")
            largest = float(np.max(np.abs(y), initial=0.0))
        if largest > np.sqrt(np.finfo(X.dtype).max):
            raise ValueError(f"y has values up to {largest:.4g}, whose squares overflow {X.dtype}: the squared loss "
                             "cannot be computed; divide y by a constant (the least-squares coefficients scale with it)")
        return y, sample_weight

    def _set_coef(self, coef, intercept, dtype):
        self.coef_, self.intercept_ = coef[0], float(intercept[0])

    @fill_doc
    def predict(self, X):
        """Predict the target of each sample with the linear model: x_i·w + b.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray or dask.array.Array of shape (n_samples,)
            The predictions, in X's floating dtype.

        See Also
        --------
        {regressor_predict_see_also}

        Examples
        --------
        >>> from fastgd import LinearRegression
        >>> from fastgd.datasets import make_regression
        >>> X, y, w = make_regression(200, 3, noise=0.1, random_state=0)
        >>> model = LinearRegression().fit(X, y)
        >>> model.predict(X[:3]).round(1), y[:3].round(1)
        (array([ 0.3,  1.4, -3.9]), array([ 0.5,  1.4, -3.8]))
        """
        if is_dask_collection(X):
            return self._on_dask(self.predict, X, None)
        return self._linear(X)[:, 0]



@fill_doc
class LogisticRegression(_DaskScore, ClassifierMixin, _GradientDescentModel):
    """Logistic regression, binary or multinomial, trained by L-BFGS or gradient descent.

    Two classes: minimizes the weighted mean binary cross-entropy plus an L2
    penalty on the coefficients,

        f(w, b) = Σ_i s_i·log(1 + exp(−ỹ_i·z_i)) / Σ_i s_i + α/2·‖w‖²,
        z_i = x_i·w + b,

    with ỹ_i = +1 for the second class of ``classes_`` (the positive class)
    and −1 for the first, and sample weights s_i (all 1 by default).  Three
    or more classes: the weighted mean softmax cross-entropy (scikit-learn's
    multinomial objective),

        f(W, b) = Σ_i s_i·(logsumexp(z_i) − z_i[y_i]) / Σ_i s_i + α/2·‖W‖²,
        z_i = W·x_i + b (one logit per class),

    with z_i[y_i] the logit of the class of sample i and ‖W‖² the sum of the
    squares of W.  Intercepts are not penalized.
    Labels may be any values of one type (numbers, strings, booleans).  By
    default a full-batch fit runs L-BFGS to the optimum; ``batch_size``,
    ``schedule``, ``early_stopping`` or a first-order ``optimizer`` train by
    gradient descent instead, and ``partial_fit`` trains one epoch at a time.

    Parameters
    ----------
    {alpha}
    {fit_intercept}
    {optimizer}
    {lr}
    {batch_size}
    {schedule}
    {max_iter}
    {tol}
    {n_iter_no_change}
    {clip_norm}
    {clip_value}
    {early_stopping}
    {validation_fraction}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, which multiply ``sample_weight``.  None: all
        1.  ``"balanced"``: n/(k·n_c) for a class of n_c of the n samples (k
        classes), counted in each call's y.  A dict ``{label: weight}``:
        finite, non-negative weights; a missing label weighs 1, an unknown
        one is a ``ValueError``.
    {warm_start}
    {random_state}
    {verbose}
    {backend}
    {n_threads}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; for two classes, ``classes_[1]`` is the
        positive class.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The coefficients, in X's floating dtype: one row w for two classes,
        a row per class (the rows of W) for more.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The intercepts b (zeros when ``fit_intercept`` is False).
    {n_iter_}
    {n_features_in_}
    {feature_names_in_}
    {history_}
    {stop_reason_}

    See Also
    --------
    LinearRegression : The same training for regression.
    fastgd.MLPClassifier : A neural network classifier.
    fastgd.plot_history : Plot ``history_``.

    Notes
    -----
    {fit_notes}

    {dask_notes}

    Examples
    --------
    >>> from fastgd import LogisticRegression
    >>> from fastgd.datasets import make_classification
    >>> X, y, w = make_classification(n_samples=500, n_features=4, random_state=0)
    >>> model = LogisticRegression().fit(X, y)
    >>> model.classes_, model.stop_reason_
    (array([0., 1.]), 'converged')
    >>> model.predict_proba(X[:2]).round(3)
    array([[0.55 , 0.45 ],
           [0.977, 0.023]])
    >>> round(model.score(X, y), 2)
    0.85

    Mini-batch Adam with a held-out set for early stopping:

    >>> model = LogisticRegression(lr=0.01, batch_size=50, tol=1e-3, early_stopping=True, random_state=0)
    >>> model = model.fit(X, y)
    >>> sorted(model.history_)
    ['grad_change', 'grad_norm', 'loss', 'lr', 'validation_loss']

    Three classes (string labels):

    >>> import numpy as np
    >>> labels = np.array(["cat", "dog", "emu"])[np.argmax(X[:, :3], axis=1)]
    >>> model = LogisticRegression().fit(X, labels)
    >>> model.coef_.shape, round(model.score(X, labels), 3)
    ((3, 4), 0.996)
    >>> model.predict(X[:4])
    array(['emu', 'emu', 'emu', 'dog'], dtype='<U3')
    """

    _loss = "log_loss"
    _parameter_constraints = {
        **_GradientDescentModel._parameter_constraints,
        "class_weight": [None, v.Options("balanced"), v.InstanceOf(dict, "a dict {label: weight}")],
    }

    def __init__(self, *, alpha=1e-4, fit_intercept=True, optimizer="auto", lr=None, batch_size=None, schedule=None,
                 max_iter=1000, tol=1e-4, n_iter_no_change=5, clip_norm=None, clip_value=None, early_stopping=False,
                 validation_fraction=0.1, class_weight=None, warm_start=False, random_state=None, verbose=0,
                 backend=None, n_threads=None):
        self._keep_parameters(locals())

    def _prepare_targets(self, X, y, sample_weight, partial, classes=None):
        classes = self._classes_of_call(partial, classes)
        if is_dask_collection(y):
            from fastgd import dask as fdask

            classes, targets = fdask.class_targets(y, classes, X.dtype)
        else:
            _check_classification_targets(y)
            classes, targets = _class_targets(y, classes, X.dtype)
        if len(classes) < 2:
            raise ValueError(f"LogisticRegression needs samples of 2 classes, but the data contains only one class: {classes[0]!r}")
        self.classes_ = classes
        weights = self._class_weights(targets)
        if weights is not None:
            sample_weight = weights if sample_weight is None else sample_weight * weights
            if is_dask_collection(sample_weight):
                from fastgd import dask as fdask

                return targets, fdask.check_sample_weight(sample_weight, X)
            sample_weight = v.check_sample_weight(sample_weight, length=X.shape[0], dtype=X.dtype)
        return targets, sample_weight

    def _classes_of_call(self, partial, classes):
        """The classes this call must use (None: those of y): ``partial_fit`` takes them on its first call."""
        if partial and classes is not None:
            classes = np.unique(classes)
            if hasattr(self, "classes_") and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes={classes.tolist()} differs from the first call's {self.classes_.tolist()}")
        elif partial and not hasattr(self, "classes_"):
            raise ValueError("classes must be passed on the first call to partial_fit")
        elif partial:
            classes = self.classes_
        return classes

    def _n_outputs(self):
        return len(self.classes_) if len(self.classes_) > 2 else 1

    def _class_weights(self, index):
        """Per-sample weights from ``class_weight`` (None when it is None); ``index`` is each
        sample's class index."""
        if self.class_weight is None:
            return None
        k = len(self.classes_)
        if self.class_weight == "balanced":
            counts = _class_counts(index, k)
            per_class = np.divide(counts.sum(), k * counts, out=np.zeros(k), where=counts > 0)
        elif isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight has labels not in the data: {sorted(map(str, unknown))}")
            per_class = np.array([float(self.class_weight.get(label, 1.0)) for label in self.classes_.tolist()])
            if (per_class < 0).any() or not np.isfinite(per_class).all():
                raise ValueError("class_weight values must be finite and non-negative")
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}")
        if is_dask_collection(index):
            return index.map_blocks(_take, per_class, dtype=np.float64)
        return per_class[index.astype(np.intp)]

    def _set_coef(self, coef, intercept, dtype):
        self.coef_, self.intercept_ = coef, intercept

    def _validation_rows(self, targets, rng):
        """A stratified held-out set: ``validation_fraction`` of each class."""
        rows = []
        for label in range(len(self.classes_)):
            members = np.flatnonzero(targets == label)
            n_held = int(round(self.validation_fraction * len(members)))
            rows.append(rng.permutation(members)[:n_held])
        held = np.sort(np.concatenate(rows))
        if len(held) == 0 or len(held) == len(targets):
            raise ValueError(f"validation_fraction={self.validation_fraction} gives an empty training or validation set")
        return held

    @fill_doc
    def decision_function(self, X):
        """Compute the logits z of each sample.

        Two classes: z_i = x_i·w + b, the log-odds of the second class of
        ``classes_`` (positive where it is predicted).  Three or more: the
        vector z_i = W·x_i + b, one logit per class.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray or dask.array.Array of shape (n_samples,) or (n_samples, n_classes)
            The logits, in X's floating dtype: a vector for two classes, a
            column per class of ``classes_`` for more.

        See Also
        --------
        predict_proba : The probabilities of the classes.
        predict : The class labels the logits decide.

        Examples
        --------
        >>> from fastgd import LogisticRegression
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = LogisticRegression().fit(X, y)
        >>> model.decision_function(X[:3]).round(2)
        array([ 0.46,  1.91, -4.23])
        >>> bool(((model.decision_function(X) > 0) == (model.predict(X) == model.classes_[1])).all())
        True
        """
        if is_dask_collection(X):
            return self._on_dask(self.decision_function, X, self._columns())
        z = self._linear(X)
        return z[:, 0] if z.shape[1] == 1 else z

    @fill_doc
    def predict(self, X):
        """Predict the class label of each sample.

        Two classes: ``classes_[1]`` where the logit z > 0, else
        ``classes_[0]``.  Three or more: the class of the largest logit.

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
        decision_function : The logits the labels are decided by.
        score : The accuracy of the labels.

        Examples
        --------
        >>> from fastgd import LogisticRegression
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = LogisticRegression().fit(X, y)
        >>> model.classes_, model.predict(X[:4])
        (array([0., 1.]), array([1., 1., 0., 1.]))
        """
        if is_dask_collection(X):
            return self._on_dask(self.predict, X, None, self.classes_.dtype)
        z = self.decision_function(X)
        return self.classes_[(z > 0).astype(np.intp) if z.ndim == 1 else np.argmax(z, axis=1)]

    @fill_doc
    def predict_proba(self, X):
        """Estimate the probability of each class for each sample.

        Two classes: [1 − σ(z), σ(z)] with σ(z) = 1/(1 + exp(−z)); three or
        more: softmax(z)_c = exp(z_c) / Σ_j exp(z_j).  Computed in float64
        as ``exp(predict_log_proba(X))``, without overflow for any z.

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
        predict_log_proba : Their logarithms, accurate near 0.
        predict : The most probable class.
        decision_function : The logits they are computed from.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd import LogisticRegression
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = LogisticRegression().fit(X, y)
        >>> model.predict_proba(X[:2]).round(3)
        array([[0.387, 0.613],
               [0.129, 0.871]])
        >>> bool(np.allclose(model.predict_proba(X).sum(axis=1), 1.0))
        True
        """
        if is_dask_collection(X):
            return self._on_dask(self.predict_proba, X, len(self.classes_), np.float64)
        return np.exp(self.predict_log_proba(X))

    @fill_doc
    def predict_log_proba(self, X):
        """Estimate the log-probability of each class for each sample.

        Two classes: [−log1pexp(z), −log1pexp(−z)] with
        log1pexp(z) = log(1 + exp(z)); three or more: z − logsumexp(z).
        Accurate where a probability rounds to 0 or 1 (unlike
        ``log(predict_proba(X))``).

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray or dask.array.Array of shape (n_samples, n_classes)
            The log-probabilities (float64), a column per class of
            ``classes_``.

        See Also
        --------
        predict_proba : The probabilities.
        decision_function : The logits they are computed from.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd import LogisticRegression
        >>> from fastgd.datasets import make_classification
        >>> X, y, w = make_classification(200, 3, random_state=0)
        >>> model = LogisticRegression().fit(X, y)
        >>> model.predict_log_proba(X[:2]).round(3)
        array([[-0.95 , -0.489],
               [-2.046, -0.138]])
        >>> bool(np.allclose(np.exp(model.predict_log_proba(X)), model.predict_proba(X)))
        True
        """
        if is_dask_collection(X):
            return self._on_dask(self.predict_log_proba, X, len(self.classes_), np.float64)
        z = self.decision_function(X).astype(np.float64)
        return _log_proba(z, raw_kernels(self.backend))

    def _columns(self):
        """Columns of ``decision_function``: None (a vector) for two classes, else k."""
        return None if len(self.classes_) == 2 else len(self.classes_)


def _log_proba(z, backend):
    """Log-probabilities of logits ``z`` (float64): binary (n,) or multinomial (n, k)."""
    if z.ndim == 2:
        top = np.max(z, axis=1, keepdims=True)
        return z - (top + np.log(np.sum(np.exp(z - top), axis=1, keepdims=True)))
    log_negative, log_positive = np.empty_like(z), np.empty_like(z)
    backend.log1pexp(z, log_negative, n_threads=1)
    backend.log1pexp(-z, log_positive, n_threads=1)
    return -np.column_stack([log_negative, log_positive])


@contextmanager
def _unchanged_on_failure(estimator):
    """Put back the estimator's attributes (``n_features_in_``, ``classes_``, ...) if the block raises: a fit that
    fails leaves the estimator as it was."""
    before = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        raise


def _class_targets(y, classes, dtype):
    """``(classes, targets)``: the sorted labels (``classes`` when given, else those in ``y``) and each sample's
    class index ``0 .. k-1`` as ``dtype`` (for two classes: 1 for ``classes[1]``, else 0).

    Non-negative integer labels below ``2 n + 1024`` are counted (``np.bincount``, no sort) and mapped through a
    table, allocating only the targets; other labels are sorted (``np.unique``) and searched.  Raises
    ``ValueError`` when ``y`` holds labels not in ``classes``.
    """
    y = np.asarray(y)
    counts = _label_counts(y)
    if counts is None:
        present = np.unique(y)
    else:
        present = np.flatnonzero(counts).astype(y.dtype)
    if classes is None:
        classes = present
    unknown = present[~np.isin(present, classes)]
    if unknown.size:
        raise ValueError(f"y contains labels not in classes: {unknown.tolist()[:5]}")
    if counts is not None:
        table = np.zeros(len(counts), dtype=dtype)
        table[present.astype(np.intp)] = np.searchsorted(classes, present)
        return classes, table[y.view(np.uint8) if y.dtype.kind == "b" else y]
    if len(classes) == 2:
        return classes, (y == classes[1]).astype(dtype)  # an n-byte mask, not 8n bytes of indices
    return classes, np.searchsorted(classes, y).astype(dtype)


def _class_counts(index, k):
    """Samples per class (float64, k) of the class indices ``index`` (a NumPy or Dask array)."""
    if is_dask_collection(index):
        import dask.array as da

        return da.bincount(index.astype(np.intp), minlength=k).compute().astype(np.float64)
    return np.bincount(index.astype(np.intp), minlength=k).astype(np.float64)


def _take(index, table):
    """``table[index]`` for class indices stored as floats."""
    return table[index.astype(np.intp)]


def _label_counts(y):
    """``np.bincount(y)`` for labels that are non-negative integers (or booleans) below ``2 n + 1024``, else None."""
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "biu" or y.dtype == np.uint64:  # bincount takes intp
        return None
    if y.dtype.kind == "b":
        return np.bincount(y.view(np.uint8), minlength=2)
    if y.min() < 0 or y.max() >= 2 * y.size + 1024:
        return None
    return np.bincount(y)


def _check_classification_targets(y):
    """Refuse continuous targets, as scikit-learn's classifiers do."""
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError("Unknown label type: continuous. Classification needs discrete labels.")
    if y.dtype.kind == "c" or (y.dtype.kind == "O" and not all(isinstance(label, (str, numbers.Integral)) for label in y[:100])):
        raise ValueError(f"Unknown label type: {y.dtype}.")
    if y.dtype.kind == "O" and len({isinstance(label, str) for label in y.ravel()}) > 1:
        raise ValueError("y mixes string and number labels; use labels of one type")

