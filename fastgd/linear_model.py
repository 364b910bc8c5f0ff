"""LinearRegression and LogisticRegression trained by gradient descent.

Both minimize ``mean loss + alpha/2 ||w||^2`` (scikit-learn's SGD convention;
the intercept is not penalized) with the fused compiled kernels, and follow
scikit-learn's estimator conventions: the constructor stores parameters only,
``fit`` returns ``self``, fitted attributes end in ``_``.  With scikit-learn
installed they are genuine scikit-learn estimators.

Optimizers: ``"lbfgs"`` (the default: SciPy's L-BFGS-B on the full batch, for
precision), or a first-order optimizer by name (``"sgd"``, ``"adagrad"``,
``"rmsprop"``, ``"adam"``) or as a :mod:`fastgd.optim` object (copied, never
mutated; its ``weight_decay`` must be 0 -- the penalty is ``alpha``), full
batch (``batch_size=None``) or mini-batch with every step compiled.
"""

import copy
import math
import numbers
import warnings

import numpy as np

from fastgd import _validation as v
from fastgd import optim
from fastgd import schedules as sch
from fastgd import training
from fastgd._sklearn_compat import (
    HAVE_SKLEARN,
    BaseEstimator,
    ClassifierMixin,
    ConvergenceWarning,
    RegressorMixin,
    check_is_fitted,
    validate_data,
)
from fastgd.backends import get_backend

__all__ = ["LinearRegression", "LogisticRegression", "EXPECTED_FAILED_CHECKS"]

OPTIMIZERS = {"sgd": optim.SGD, "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop, "adam": optim.Adam}

# scikit-learn's check_estimator: checks expected to fail, with their reasons.  None
# today: the sample-weight equivalence check that scikit-learn marks as an expected
# failure for its own LogisticRegression and SGD estimators passes here (lbfgs).
EXPECTED_FAILED_CHECKS = {}


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _check_float(name, value, low=0.0, *, open_low=False, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or (open_low and value == low) or value > high:
        raise ValueError(f"{name} must be in {'(' if open_low else '['}{low}, {high}], got {value}")
    return float(value)


class _GradientDescentModel(BaseEstimator):
    """Shared by both estimators: parameter checks, the fit loop, prediction."""

    _loss = None

    def __init__(self, *, alpha=1e-4, fit_intercept=True, optimizer="lbfgs", lr=None, batch_size=None, schedule=None,
                 max_iter=1000, tol=1e-4, n_iter_no_change=5, clip_norm=None, clip_value=None, early_stopping=False,
                 validation_fraction=0.1, warm_start=False, random_state=None, verbose=0, backend=None, n_threads=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.schedule = schedule
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads

    # -- checks ------------------------------------------------------------------------------
    def _settings(self, max_iter=None):
        batch_size = None if self.batch_size is None else _check_int("batch_size", self.batch_size, 1)
        if self.early_stopping:
            _check_float("validation_fraction", self.validation_fraction, 0.0, open_low=True, high=0.99)
        random_state = self.random_state
        if isinstance(random_state, np.random.RandomState):
            random_state = random_state.randint(2**31)
        get_backend(self.backend)  # a clear error for an unknown or missing backend
        for name in ("lr", "clip_norm", "clip_value"):
            if getattr(self, name) is not None:
                _check_float(name, getattr(self, name), 0.0, open_low=True)
        if self.optimizer == "lbfgs" and batch_size is not None:
            raise ValueError("optimizer='lbfgs' is full-batch: set batch_size=None or choose a first-order optimizer")
        return training.Settings(
            max_iter=_check_int("max_iter", self.max_iter if max_iter is None else max_iter, 1),
            tol=_check_float("tol", self.tol),
            n_iter_no_change=_check_int("n_iter_no_change", self.n_iter_no_change, 1),
            batch_size=batch_size, backend=self.backend, n_threads=v.check_n_threads(self.n_threads),
            verbose=_check_int("verbose", self.verbose, 0), random_state=random_state,
        )

    def _first_order_optimizer(self, name_if_lbfgs="adam"):
        """A fresh optimizer object from the ``optimizer`` parameter (objects are copied)."""
        spec = self.optimizer
        if isinstance(spec, optim.Optimizer):
            opt = copy.deepcopy(spec)
            if getattr(opt, "weight_decay", 0.0):
                raise ValueError(
                    f"the optimizer object has weight_decay={opt.weight_decay}; the estimators' only penalty is "
                    "alpha (objective mean loss + alpha/2 ||w||^2): set weight_decay=0 and use alpha"
                )
            opt.state, opt.step_count, opt.last_grad_norm = None, 0, None
        else:
            name = name_if_lbfgs if spec == "lbfgs" else spec
            if name not in OPTIMIZERS:
                raise ValueError(f"optimizer must be 'lbfgs', one of {sorted(OPTIMIZERS)} or a fastgd.optim object, got {spec!r}")
            opt = OPTIMIZERS[name]()
        if self.lr is not None:
            opt.lr = _check_float("lr", self.lr, 0.0, open_low=True)
        for name in ("clip_norm", "clip_value"):
            if getattr(self, name) is not None:
                setattr(opt, name, _check_float(name, getattr(self, name), 0.0, open_low=True))
        opt.backend, opt.n_threads = self.backend, self.n_threads
        opt._kernel_arguments()
        return opt

    def _schedule(self, opt, settings):
        """The schedule object: the parameter, or the default for this kind of training."""
        if self.schedule is None:
            if settings.batch_size is None:
                return sch.Constant(opt.lr)
            # mini-batch gradients are noisy: divide the rate by 5 when the loss stops improving
            return sch.ReduceLROnPlateau(opt.lr, factor=0.2, patience=max(settings.n_iter_no_change - 2, 0),
                                         threshold=settings.tol, min_lr=opt.lr * 1e-3)
        return copy.deepcopy(sch.as_schedule(self.schedule))

    def _check_fit_data(self, X, y, sample_weight, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], accept_sparse=False,
                             y_numeric=self._loss == "squared_error")
        X = np.ascontiguousarray(X)
        sample_weight = v.check_sample_weight(sample_weight, length=X.shape[0], dtype=X.dtype)
        return X, y, sample_weight

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` (n, d) and ``y`` (n,), optionally weighting samples; returns self."""
        X, y, sample_weight = self._check_fit_data(X, y, sample_weight, reset=True)
        targets, sample_weight = self._prepare_targets(X, y, sample_weight, partial=False)
        settings = self._settings()
        alpha = _check_float("alpha", self.alpha)
        theta = self._initial_theta(X)
        validation = None
        if self.early_stopping:
            sample_weight, validation = self._hold_out(X, targets, sample_weight, settings)
        problem = training.Problem(X, targets, sample_weight, self._loss, alpha, bool(self.fit_intercept))
        with training.blas_held_to_one_thread(settings.backend):
            if self.optimizer == "lbfgs" and self.schedule is None and settings.batch_size is None and validation is None:
                result = training.train_lbfgs(problem, theta, settings)
            else:
                opt = self._first_order_optimizer()
                result = training.train_first_order(problem, theta, opt, self._schedule(opt, settings), settings, validation)
                self._optimizer = opt
        self._store(result, X.dtype)
        return self

    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """One epoch on ``(X, y)``, continuing from the previous call's parameters and optimizer state.

        Uses the first-order optimizer configured (Adam when ``optimizer="lbfgs"``).
        """
        first_call = not hasattr(self, "coef_")
        X, y, sample_weight = self._check_fit_data(X, y, sample_weight, reset=first_call)
        targets, sample_weight = self._prepare_targets(X, y, sample_weight, partial=True, **kwargs)
        settings = self._settings(max_iter=1)
        settings.tol, settings.n_iter_no_change = 0.0, 10**9  # one epoch, no stop rule but divergence
        if first_call or not hasattr(self, "_optimizer"):
            self._optimizer = self._first_order_optimizer()
        theta = self._initial_theta(X, keep=not first_call)
        problem = training.Problem(X, targets, sample_weight, self._loss, _check_float("alpha", self.alpha), bool(self.fit_intercept))
        opt = self._optimizer
        with training.blas_held_to_one_thread(settings.backend):
            result = training.train_first_order(problem, theta, opt, sch.Constant(opt.lr), settings)
        self._store(result, X.dtype, warn=False)
        return self

    def _initial_theta(self, X, keep=None):
        keep = (self.warm_start and hasattr(self, "coef_")) if keep is None else keep
        theta = np.zeros(X.shape[1] + 1, dtype=X.dtype)
        if keep and np.size(self.coef_) == X.shape[1]:
            theta[:-1] = np.ravel(self.coef_)
            theta[-1] = np.ravel(self.intercept_)[0] if self.fit_intercept else 0.0
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
        X_held, y_held = X[held], targets[held]
        backend = get_backend(settings.backend)
        grad = np.empty(X.shape[1] + 1, dtype=X.dtype)
        held_problem = training.Problem(X_held, y_held, held_weights, self._loss, 0.0, bool(self.fit_intercept))
        return weights, lambda theta: training.objective(backend, held_problem, theta, grad, settings.n_threads)

    def _validation_rows(self, targets, rng):
        n_held = max(1, int(round(self.validation_fraction * len(targets))))
        if n_held >= len(targets):
            raise ValueError(f"validation_fraction={self.validation_fraction} leaves no training samples")
        return np.sort(rng.permutation(len(targets))[:n_held])

    def _store(self, result, dtype, warn=True):
        d = result.theta.shape[0] - 1
        coef = result.theta[:d].astype(dtype, copy=True)
        intercept = float(result.theta[d]) if self.fit_intercept else 0.0
        self._set_coef(coef, intercept, dtype)
        self.n_iter_ = int(result.n_iter)
        self.history_ = result.history
        self.stop_reason_ = result.stop_reason
        if warn and result.stop_reason == "max_iter":
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} epochs before converging "
                f"(gradient norm {result.history['grad_norm'][-1]:.3g} > tol={self.tol}); increase max_iter "
                "or the learning rate, or standardize the features.",
                ConvergenceWarning,
                stacklevel=3,
            )

    # -- prediction --------------------------------------------------------------------------
    def _linear(self, X):
        check_is_fitted(self)
        X = np.ascontiguousarray(validate_data(self, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=False))
        out = np.empty(X.shape[0], dtype=X.dtype)
        w = np.ascontiguousarray(np.ravel(self.coef_), dtype=X.dtype)
        intercept = float(np.ravel(self.intercept_)[0])
        get_backend(self.backend).linear_predict(X, w, intercept, out, n_threads=v.check_n_threads(self.n_threads))
        return out


class LinearRegression(RegressorMixin, _GradientDescentModel):
    """Linear least squares by gradient descent: minimizes
    ``sum_i s_i (x_i . w + b - y_i)^2 / 2 / sum_i s_i + alpha/2 ||w||^2``.

    Fitted attributes: ``coef_`` (d,), ``intercept_`` (float), ``n_iter_``,
    ``n_features_in_``, ``history_`` (per-epoch ``loss``, ``grad_norm``,
    ``grad_change``, ``lr``) and ``stop_reason_`` (``"converged"``,
    ``"stalled"``, ``"diverged"`` or ``"max_iter"``).
    """

    _loss = "squared_error"

    def _prepare_targets(self, X, y, sample_weight, partial, **kwargs):
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        y = np.asarray(y, dtype=X.dtype)
        v.check_finite(y, "y")
        return y, sample_weight

    def _set_coef(self, coef, intercept, dtype):
        self.coef_, self.intercept_ = coef, intercept

    def predict(self, X):
        """``X w + b``."""
        return self._linear(X)


class LogisticRegression(ClassifierMixin, _GradientDescentModel):
    """Binary logistic regression by gradient descent: minimizes the weighted mean
    binary cross-entropy of ``z = x . w + b`` plus ``alpha/2 ||w||^2``.

    Labels may be any two values (``classes_``, sorted; the second is the
    positive class).  ``class_weight`` is ``None``, ``"balanced"``
    (``n / (2 n_c)``) or a dict ``{label: weight}``; it multiplies
    ``sample_weight``.  Fitted attributes as :class:`LinearRegression`, with
    ``coef_`` (1, d), ``intercept_`` (1,) and ``classes_``.
    """

    _loss = "log_loss"

    def __init__(self, *, alpha=1e-4, fit_intercept=True, optimizer="lbfgs", lr=None, batch_size=None, schedule=None,
                 max_iter=1000, tol=1e-4, n_iter_no_change=5, clip_norm=None, clip_value=None, early_stopping=False,
                 validation_fraction=0.1, class_weight=None, warm_start=False, random_state=None, verbose=0,
                 backend=None, n_threads=None):
        super().__init__(alpha=alpha, fit_intercept=fit_intercept, optimizer=optimizer, lr=lr, batch_size=batch_size,
                         schedule=schedule, max_iter=max_iter, tol=tol, n_iter_no_change=n_iter_no_change,
                         clip_norm=clip_norm, clip_value=clip_value, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, warm_start=warm_start, random_state=random_state,
                         verbose=verbose, backend=backend, n_threads=n_threads)
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _prepare_targets(self, X, y, sample_weight, partial, classes=None):
        _check_classification_targets(y)
        if partial and classes is not None:
            classes = np.unique(classes)
            if hasattr(self, "classes_") and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes={classes.tolist()} differs from the first call's {self.classes_.tolist()}")
        elif partial and not hasattr(self, "classes_"):
            raise ValueError("classes must be passed on the first call to partial_fit")
        elif partial:
            classes = self.classes_
        else:
            classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"LogisticRegression needs samples of 2 classes, but the data contains only one class: {classes[0]!r}")
        if len(classes) > 2:
            raise ValueError("Only binary classification is supported.")
        unknown = ~np.isin(y, classes)
        if unknown.any():
            raise ValueError(f"y contains labels not in classes: {np.unique(y[unknown]).tolist()[:5]}")
        self.classes_ = classes
        positive = (y == classes[1])
        weights = self._class_weights(positive, X.dtype)
        if weights is not None:
            sample_weight = weights if sample_weight is None else sample_weight * weights
            v.check_sample_weight(sample_weight, length=X.shape[0], dtype=X.dtype)
        return positive.astype(X.dtype), sample_weight

    def _class_weights(self, positive, dtype):
        """Per-sample weights from ``class_weight`` (None when it is None)."""
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            counts = np.bincount(positive.astype(np.intp), minlength=2).astype(np.float64)
            per_class = np.divide(len(positive), 2 * counts, out=np.zeros(2), where=counts > 0)
        elif isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight has labels not in the data: {sorted(map(str, unknown))}")
            per_class = np.array([float(self.class_weight.get(label, 1.0)) for label in self.classes_.tolist()])
            if (per_class < 0).any() or not np.isfinite(per_class).all():
                raise ValueError("class_weight values must be finite and non-negative")
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}")
        return per_class[positive.astype(np.intp)].astype(dtype)

    def _set_coef(self, coef, intercept, dtype):
        self.coef_ = coef.reshape(1, -1)
        self.intercept_ = np.array([intercept], dtype=dtype)

    def _validation_rows(self, targets, rng):
        """A stratified held-out set: ``validation_fraction`` of each class."""
        rows = []
        for label in (0, 1):
            members = np.flatnonzero(targets == label)
            n_held = int(round(self.validation_fraction * len(members)))
            rows.append(rng.permutation(members)[:n_held])
        held = np.sort(np.concatenate(rows))
        if len(held) == 0 or len(held) == len(targets):
            raise ValueError(f"validation_fraction={self.validation_fraction} gives an empty training or validation set")
        return held

    def decision_function(self, X):
        """``z = X w + b``: positive for the second class of ``classes_``."""
        return self._linear(X)

    def predict(self, X):
        """The class of each row: ``classes_[1]`` where ``z > 0``."""
        z = self.decision_function(X)
        return self.classes_[(z > 0).astype(np.intp)]

    def predict_proba(self, X):
        """``[1 - sigmoid(z), sigmoid(z)]`` per row, in float64, computed without overflow."""
        z = self.decision_function(X).astype(np.float64)
        backend = get_backend(self.backend)
        proba = np.empty((z.shape[0], 2), dtype=z.dtype)
        positive, negative = np.empty_like(z), np.empty_like(z)
        backend.sigmoid(z, positive, n_threads=1)
        backend.sigmoid(-z, negative, n_threads=1)
        proba[:, 0], proba[:, 1] = negative, positive
        return proba

    def predict_log_proba(self, X):
        """``[-log1pexp(z), -log1pexp(-z)]`` in float64: exact even where a probability rounds to 0 or 1."""
        z = self.decision_function(X).astype(np.float64)
        backend = get_backend(self.backend)
        log_negative, log_positive = np.empty_like(z), np.empty_like(z)
        backend.log1pexp(z, log_negative, n_threads=1)
        backend.log1pexp(-z, log_positive, n_threads=1)
        return -np.column_stack([log_negative, log_positive])


def _check_classification_targets(y):
    """Refuse continuous targets, as scikit-learn's classifiers do."""
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError("Unknown label type: continuous. Classification needs discrete labels.")
    if y.dtype.kind == "c" or (y.dtype.kind == "O" and not all(isinstance(label, (str, numbers.Integral)) for label in y[:100])):
        raise ValueError(f"Unknown label type: {y.dtype}.")


if not HAVE_SKLEARN:  # the stand-in mixins have no tags
    del LogisticRegression.__sklearn_tags__
