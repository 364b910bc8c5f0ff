"""Numba backend: just-in-time compiled kernels, by concept as in ``fastgd_core``.

Kernels compile lazily on first use for the dtypes seen and are cached on disk
in a per-user directory (:mod:`._cache`, :func:`cache_dir`), never inside the
installed package; importing this package compiles nothing.
"""

from fastgd.backends._spec import KERNELS
from fastgd.backends.numba_backend._cache import cache_dir
from fastgd.backends.numba_backend.losses import (linear_predict, log1pexp, logistic_loss_grad, sigmoid, softmax_loss_grad,
                                                  squared_loss_grad)
from fastgd.backends.numba_backend.optim import optimizer_update, squared_norm
from fastgd.backends.numba_backend.network import network_epoch
from fastgd.backends.numba_backend.training import minibatch_epoch

__all__ = list(KERNELS)
