"""Training kernel of a fully connected network, compiled: a whole mini-batch epoch (``_spec.network_epoch``).

Per batch, without the GIL: the rows are gathered into the first layer's
buffer; each layer's product is one BLAS call (``_blas.pxd``) followed by one
pass that adds the bias, applies the activation and marks the active units;
the output loss and ``dl/dZ`` are computed per row in float64; the backward
pass is two BLAS calls per layer (``A^T delta`` and ``delta W^T``) with the
activation's derivative fused into the pass over the result; then the penalty,
clipping and the optimizer's update of ``_optim.h`` on the flat parameter
vector (the weights of every layer with ``hyper``, the biases with
``intercept_hyper``).  The epoch is serial: BLAS does the heavy part.
"""

from cython cimport floating
from libc.math cimport exp, fabs, isinf, log, log1p, sqrt, tanh
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastgd_core._blas cimport gemm
from fastgd_core._optim cimport fgd_optimizer_update, fgd_squared_norm

cdef enum:
    IDENTITY = 0  # _spec.ACTIVATION_CODES
    LOGISTIC = 1
    TANH = 2
    RELU = 3
    SIGMOID_OUT = 0  # _spec.OUTPUT_CODES
    SOFTMAX_OUT = 1
    IDENTITY_OUT = 2


cdef inline double _sigmoid(double z) noexcept nogil:
    return 1.0 / (1.0 + exp(-z)) if z >= 0 else exp(z) / (1.0 + exp(z))


cdef inline double _activate(int code, double z) noexcept nogil:
    if code == LOGISTIC:
        return _sigmoid(z)
    if code == TANH:
        return tanh(z)
    if code == RELU:
        return z if z > 0 else 0.0
    return z


cdef inline double _derivative(int code, double a) noexcept nogil:
    """``act'`` written with the output ``a``."""
    if code == LOGISTIC:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    if code == RELU:
        return 1.0 if a > 0 else 0.0
    return 1.0


cdef double _output_terms(int output, const floating *Z, const floating *y, const floating *s, Py_ssize_t m,
                          Py_ssize_t k, Py_ssize_t ky, floating *delta, double *weight) noexcept nogil:
    """Per row the loss and ``delta = s dl/dZ`` (unnormalized); returns ``sum s l``, sets ``weight = sum s``."""
    cdef Py_ssize_t r, c, label
    cdef double loss_sum = 0.0, sr, z, t, loss, top, total, lse, diff
    weight[0] = 0.0
    for r in range(m):
        sr = 1.0 if s == NULL else <double> s[r]
        if output == SIGMOID_OUT:
            z, t = <double> Z[r], <double> y[r * ky]
            loss = (z if z > 0 else 0.0) + log1p(exp(-fabs(z))) - t * z
            delta[r] = <floating> (sr * (_sigmoid(z) - t))
        elif output == SOFTMAX_OUT:
            top = <double> Z[r * k]
            for c in range(1, k):
                if Z[r * k + c] > top:
                    top = <double> Z[r * k + c]
            total = 0.0
            for c in range(k):
                total += exp(<double> Z[r * k + c] - top)
            lse = top + log(total)
            label = <Py_ssize_t> y[r * ky]
            loss = lse - <double> Z[r * k + label]
            for c in range(k):
                delta[r * k + c] = <floating> (sr * (exp(<double> Z[r * k + c] - lse) - (1.0 if c == label else 0.0)))
        else:
            loss = 0.0
            for c in range(k):
                diff = <double> Z[r * k + c] - <double> y[r * ky + c]
                loss += 0.5 * diff * diff / k
                delta[r * k + c] = <floating> (sr * diff / k)
        loss_sum += sr * loss
        weight[0] += sr
    return loss_sum


cdef double _backprop(floating *A, const floating *y, const floating *s, Py_ssize_t m, Py_ssize_t rows,
                      const floating *params, const int64_t *sizes, Py_ssize_t n_layers, int activation, int output,
                      Py_ssize_t ky, floating *grad, floating *delta, floating *below, unsigned char *active,
                      double *weight) noexcept nogil:
    """Forward and backward over ``m`` rows whose inputs are at ``A`` (layer buffers of ``rows`` rows each,
    consecutive); writes the weighted mean gradient into ``grad``; returns the weighted mean loss."""
    cdef Py_ssize_t l, r, c, a, b, w_start = 0, b_start = 0, hidden = 0
    cdef floating *layer
    cdef floating *next_layer
    cdef floating *tmp
    cdef double z, inverse, loss_sum, acc
    for l in range(n_layers):
        b_start += sizes[l] * sizes[l + 1]
    layer = A
    for l in range(n_layers):  # forward: Z (m x b) = A (m x a) W (a x b), column-major Z^T = W^T A^T
        a, b = sizes[l], sizes[l + 1]
        next_layer = layer + rows * a
        gemm(c'N', c'N', <int> b, <int> m, <int> a, params + w_start, <int> b, layer, <int> a, 0, next_layer, <int> b)
        for r in range(m):
            for c in range(b):
                z = <double> next_layer[r * b + c] + <double> params[b_start + c]
                if l < n_layers - 1:
                    z = _activate(activation, z)
                    if z != 0:
                        active[hidden + c] = 1
                next_layer[r * b + c] = <floating> z
        w_start += a * b
        b_start += b
        if l < n_layers - 1:
            hidden += b
        layer = next_layer
    loss_sum = _output_terms(output, layer, y, s, m, sizes[n_layers], ky, delta, weight)
    if weight[0] == 0.0:
        return 0.0
    inverse = 1.0 / weight[0]
    for r in range(m * sizes[n_layers]):
        delta[r] = <floating> (delta[r] * inverse)
    for l in range(n_layers - 1, -1, -1):  # backward
        a, b = sizes[l], sizes[l + 1]
        w_start -= a * b
        b_start -= b
        layer -= rows * a
        # grad W (a x b) = A^T delta: column-major grad^T (b x a) = delta^T A
        gemm(c'N', c'T', <int> b, <int> a, <int> m, delta, <int> b, layer, <int> a, 0, grad + w_start, <int> b)
        for c in range(b):
            acc = 0.0
            for r in range(m):
                acc += <double> delta[r * b + c]
            grad[b_start + c] = <floating> acc
        if l > 0:  # below (m x a) = delta W^T: column-major below^T (a x m) = W delta^T
            gemm(c'T', c'N', <int> a, <int> m, <int> b, params + w_start, <int> b, delta, <int> b, 0, below, <int> a)
            for r in range(m * a):
                below[r] = <floating> (below[r] * _derivative(activation, <double> layer[r]))
            tmp = delta
            delta = below
            below = tmp
    return loss_sum * inverse


def network_epoch(const floating[:, ::1] X, const floating[:, ::1] y, const floating[::1] sample_weight,
                  const int64_t[::1] order, floating[::1] params, floating[:, ::1] state, double[::1] scalars,
                  double[::1] grad_mean, unsigned char[::1] active, *, const int64_t[::1] sizes, int activation,
                  int output, int optimizer, const double[::1] hyper, const double[::1] intercept_hyper,
                  Py_ssize_t step, Py_ssize_t batch_size, double alpha, bint decoupled, double clip_value,
                  double clip_norm, int n_threads):
    """One epoch of mini-batch steps of a network (``_spec.network_epoch``): per batch the forward
    pass ``A_l = act(A_{l-1} W_l + b_l)``, the output loss, backpropagation
    ``grad W_l = A_{l-1}^T delta``, ``delta = (delta W_l^T) act'(A_{l-1})``, the penalty
    ``alpha/2 ||W||^2``, clipping and the update.  Returns ``(weighted mean loss, n_steps)``."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], ky = y.shape[1], n_layers = sizes.shape[0] - 1
    cdef Py_ssize_t rows = batch_size if batch_size < n else n, n_params = params.shape[0]
    cdef Py_ssize_t n_weights = 0, widest = 1, width_sum = 0, n_scalars = scalars.shape[0]
    cdef Py_ssize_t l, start, m, r, j, i
    for l in range(n_layers):
        n_weights += sizes[l] * sizes[l + 1]
    for l in range(n_layers + 1):
        width_sum += sizes[l]
        if sizes[l] > widest:
            widest = sizes[l]
    cdef floating *A = <floating *> malloc(rows * width_sum * sizeof(floating))
    cdef floating *yb = <floating *> malloc(rows * ky * sizeof(floating))
    cdef floating *sb = <floating *> malloc(rows * sizeof(floating))
    cdef floating *delta = <floating *> malloc(rows * widest * sizeof(floating))
    cdef floating *below = <floating *> malloc(rows * widest * sizeof(floating))
    cdef floating *grad = <floating *> malloc(n_params * sizeof(floating))
    cdef floating *recorded = <floating *> malloc(n_params * sizeof(floating))
    cdef double *grad_sum = <double *> malloc(n_params * sizeof(double))
    cdef double *weight_scalars = <double *> malloc((n_scalars + 1) * sizeof(double))
    if A == NULL or yb == NULL or sb == NULL or delta == NULL or below == NULL or grad == NULL or recorded == NULL \
            or grad_sum == NULL or weight_scalars == NULL:
        free(A); free(yb); free(sb); free(delta); free(below); free(grad); free(recorded); free(grad_sum)
        free(weight_scalars)
        raise MemoryError()
    cdef bint weighted = sample_weight is not None
    cdef int is_float32 = floating is float
    cdef floating *stepped = grad if decoupled else recorded
    cdef double batch_loss, batch_weight, penalty, wj, raw, clipped, grad_scale, t, loss_sum = 0.0, weight_sum = 0.0
    cdef Py_ssize_t n_steps = 0
    with nogil:
        for j in range(n_params):
            grad_sum[j] = 0.0
        start = 0
        while start < n:
            m = batch_size if batch_size < n - start else n - start
            for r in range(m):
                i = order[start + r]
                memcpy(A + r * d, &X[i, 0], d * sizeof(floating))
                memcpy(yb + r * ky, &y[i, 0], ky * sizeof(floating))
                if weighted:
                    sb[r] = sample_weight[i]
            start += m
            batch_loss = _backprop(A, yb, sb if weighted else NULL, m, rows, &params[0], &sizes[0], n_layers,
                                   activation, output, ky, grad, delta, below, &active[0], &batch_weight)
            if batch_weight == 0.0:
                continue
            penalty = 0.0
            for j in range(n_weights):
                wj = <double> params[j]
                penalty += wj * wj
                recorded[j] = <floating> (grad[j] + alpha * wj)
            for j in range(n_weights, n_params):
                recorded[j] = grad[j]
            grad_scale = 1.0
            if not isinf(clip_norm):
                fgd_squared_norm(is_float32, stepped, n_params, clip_value, 1, &raw, &clipped)
                grad_scale = min(1.0, clip_norm / (sqrt(clipped) + 1e-6))
            n_steps += 1
            t = <double> (step + n_steps)
            memcpy(weight_scalars, &scalars[0], n_scalars * sizeof(double))
            fgd_optimizer_update(is_float32, optimizer, &params[0], stepped, &state[0, 0], n_params, n_weights,
                                 &hyper[0], t, weight_scalars, clip_value, grad_scale, 1)
            fgd_optimizer_update(is_float32, optimizer, &params[n_weights], stepped + n_weights, &state[0, n_weights],
                                 n_params, n_params - n_weights, &intercept_hyper[0], t, &scalars[0], clip_value,
                                 grad_scale, 1)
            for j in range(n_params):
                grad_sum[j] += recorded[j]
            loss_sum += (batch_loss + 0.5 * alpha * penalty) * batch_weight
            weight_sum += batch_weight
        for j in range(n_params):
            grad_mean[j] = grad_sum[j] / (n_steps if n_steps > 0 else 1)
    free(A); free(yb); free(sb); free(delta); free(below); free(grad); free(recorded); free(grad_sum)
    free(weight_scalars)
    return (loss_sum / weight_sum if weight_sum > 0.0 else float("nan")), n_steps
