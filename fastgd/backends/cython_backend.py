"""The ``cython`` backend: the compiled ``fastgd_core`` kernels under the ``_spec`` names."""

from fastgd.backends._spec import KERNELS
from fastgd_core.losses import linear_predict, log1pexp, logistic_loss_grad, sigmoid, squared_loss_grad
from fastgd_core.network import network_epoch
from fastgd_core.optim import optimizer_update, squared_norm
from fastgd_core.softmax import softmax_loss_grad
from fastgd_core.training import minibatch_epoch

__all__ = list(KERNELS)
