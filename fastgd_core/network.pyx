"""Training kernel of a fully connected network, compiled: a whole mini-batch epoch (``_spec.network_epoch``).

Per batch, without the GIL: the rows are gathered into the first layer's
buffer; each layer's product is one BLAS call (``_blas.pxd``) followed by one
pass (``_network.h``) that adds the bias, applies the activation and keeps
each unit's largest output (its activity over the epoch);
the output loss and ``dl/dZ`` are computed per row in float64; the backward
pass is two BLAS calls per layer (``A^T delta`` and ``delta W^T``) with the
activation's derivative fused into the pass over the result; then the penalty,
clipping and the optimizer's update of ``_optim.h`` on the flat parameter
vector (the weights of every layer with ``hyper``, the biases with
``intercept_hyper``).

Threads split each batch's rows into chunks (``_parallel.h``: the count
depends on ``n_threads`` and the batch's work only); each chunk gathers,
forwards and backpropagates its rows with single-threaded BLAS calls into
its own gradient buffer, and the chunks' gradients are added in chunk order
before the one update.  (BLAS's own threads on a product of 256 rows cost
more in synchronization than they win: the caller holds BLAS to one thread.)
"""

from cython cimport floating
from libc.math cimport exp, fabs, log, log1p, sqrt, isinf
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

from fastgd_core._blas cimport gemm
from fastgd_core._losses cimport FGD_MIN_WORK, fgd_n_chunks, fgd_run_chunks
from fastgd_core._optim cimport fgd_optimizer_update_in_chunks, fgd_squared_norm

cdef extern from "_network.h" nogil:
    void fgd_bias_activate(int is_float32, int activation, void *Z, const void *bias, ptrdiff_t m, ptrdiff_t b,
                           void *live)
    void fgd_add_bias(int is_float32, void *Z, const void *bias, ptrdiff_t m, ptrdiff_t b)
    void fgd_times_derivative(int is_float32, int activation, void *delta, const void *A, ptrdiff_t n)
    void fgd_column_sums(int is_float32, const void *delta, ptrdiff_t m, ptrdiff_t b, double *sums)
    double fgd_add_penalty(int is_float32, void *out, const void *grad, const void *w, ptrdiff_t n, double alpha)
    void fgd_accumulate(int is_float32, double *total, const void *g, ptrdiff_t n)
    void fgd_add_into(int is_float32, void *out, const void *part, ptrdiff_t n)
    double fgd_sigmoid(double z)

from fastgd_core._losses cimport fgd_softmax_block

include "_dispatch.pxi"

cdef enum:
    HOT_UPDATE_ELEMENTS = 1 << 14  # weights from which the update inside an epoch runs on the epoch's threads
    SIGMOID_OUT = 0  # _spec.OUTPUT_CODES
    SOFTMAX_OUT = 1
    IDENTITY_OUT = 2


cdef double _output_terms(int output, floating *Z, const floating *y, const floating *s, Py_ssize_t m,
                          Py_ssize_t k, Py_ssize_t ky, floating *delta, double *scratch) noexcept nogil:
    """Per row the loss and ``delta = s dl/dZ`` (unnormalized); returns ``sum s l``.  ``scratch`` holds
    ``m (k + 1) + k + 2`` doubles (the softmax block's exponentials, see ``_simd_rows.h``)."""
    cdef Py_ssize_t r, c
    cdef double loss_sum = 0.0, sr, z, t, loss, diff
    cdef double *acc = scratch + m * (k + 1)
    if output == SOFTMAX_OUT:
        for c in range(k + 2):
            acc[c] = 0.0
        fgd_softmax_block(floating is float, Z, NULL, y, s, m, k, delta, scratch, scratch + m * k, acc)
        return acc[0]
    for r in range(m):
        sr = 1.0 if s == NULL else <double> s[r]
        if output == SIGMOID_OUT:
            z, t = <double> Z[r], <double> y[r * ky]
            loss = (z if z > 0 else 0.0) + log1p(exp(-fabs(z))) - t * z
            delta[r] = <floating> (sr * (fgd_sigmoid(z) - t))
        else:
            loss = 0.0
            for c in range(k):
                diff = <double> Z[r * k + c] - <double> y[r * ky + c]
                loss += 0.5 * diff * diff / k
                delta[r * k + c] = <floating> (sr * diff / k)
        loss_sum += sr * loss
    return loss_sum


cdef double _backprop(floating *A, const floating *y, const floating *s, Py_ssize_t m, Py_ssize_t rows,
                      const floating *params, const int64_t *sizes, Py_ssize_t n_layers, int activation, int output,
                      Py_ssize_t ky, floating *grad, floating *delta, floating *below, floating *live,
                      double *scratch, double inverse) noexcept nogil:
    """Forward and backward over ``m`` rows whose inputs are at ``A`` (layer buffers of ``rows`` rows each,
    consecutive); writes ``inverse`` times the weighted gradient sum into ``grad`` and returns ``inverse`` times
    the weighted loss sum (``inverse``: one over the batch's total weight).  ``live`` (one per hidden unit)
    keeps the largest |output| seen; ``scratch`` holds max(widest, rows (k + 1) + k + 2) doubles."""
    cdef Py_ssize_t l, r, c, a, b, w_start = 0, b_start = 0, hidden = 0
    cdef int is_float32 = floating is float
    cdef floating *layer
    cdef floating *next_layer
    cdef floating *tmp
    cdef double loss_sum
    for l in range(n_layers):
        b_start += sizes[l] * sizes[l + 1]
    layer = A
    for l in range(n_layers):  # forward: Z (m x b) = A (m x a) W (a x b), column-major Z^T = W^T A^T
        a, b = sizes[l], sizes[l + 1]
        next_layer = layer + rows * a
        gemm(c'N', c'N', <int> b, <int> m, <int> a, params + w_start, <int> b, layer, <int> a, 0, next_layer, <int> b)
        if l < n_layers - 1:
            fgd_bias_activate(is_float32, activation, next_layer, params + b_start, m, b, live + hidden)
            hidden += b
        else:
            fgd_add_bias(is_float32, next_layer, params + b_start, m, b)
        w_start += a * b
        b_start += b
        layer = next_layer
    loss_sum = _output_terms(output, layer, y, s, m, sizes[n_layers], ky, delta, scratch)
    for r in range(m * sizes[n_layers]):
        delta[r] = <floating> (delta[r] * inverse)
    for l in range(n_layers - 1, -1, -1):  # backward
        a, b = sizes[l], sizes[l + 1]
        w_start -= a * b
        b_start -= b
        layer -= rows * a
        # grad W (a x b) = A^T delta: column-major grad^T (b x a) = delta^T A
        gemm(c'N', c'T', <int> b, <int> a, <int> m, delta, <int> b, layer, <int> a, 0, grad + w_start, <int> b)
        fgd_column_sums(is_float32, delta, m, b, scratch)
        for c in range(b):
            grad[b_start + c] = <floating> scratch[c]
        if l > 0:  # below (m x a) = delta W^T: column-major below^T (a x m) = W delta^T
            gemm(c'T', c'N', <int> a, <int> m, <int> b, params + w_start, <int> b, delta, <int> b, 0, below, <int> a)
            fgd_times_derivative(is_float32, activation, below, layer, m * a)
            tmp = delta
            delta = below
            below = tmp
    return loss_sum * inverse


ctypedef struct _Batch:
    int is_float32
    # the data and the batch: rows order[lo:hi] of X (n x d) and y (n x ky); s is NULL or the sample weights
    const void *X
    const void *y
    const void *s
    const int64_t *order
    Py_ssize_t d, ky
    double inverse  # one over the batch's total weight
    # the network
    const void *params
    const int64_t *sizes
    Py_ssize_t n_layers, n_params, n_hidden
    int activation, output
    # per chunk c, at c times the stride: the layer buffers (chunk_rows x sum of widths), y and s of the rows,
    # delta and below (chunk_rows x widest), the gradient (n_params), live (n_hidden), scratch (scratch_size)
    Py_ssize_t chunk_rows, widest, width_sum, scratch_size
    void *A
    void *yb
    void *sb
    void *delta
    void *below
    void *grads
    void *live
    double *scratch
    double *losses


cdef void _chunk(const _Batch *job, const floating *X, int c, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Chunk ``c`` of a batch: gather rows ``lo..hi`` and backpropagate them into chunk ``c``'s gradient."""
    cdef Py_ssize_t r, i, m = hi - lo, d = job.d, ky = job.ky
    cdef floating *A = <floating *> job.A + c * job.chunk_rows * job.width_sum
    cdef floating *yb = <floating *> job.yb + c * job.chunk_rows * ky
    cdef floating *sb = <floating *> job.sb + c * job.chunk_rows
    cdef const floating *y = <const floating *> job.y
    cdef const floating *s = <const floating *> job.s
    for r in range(m):
        i = job.order[lo + r]
        memcpy(A + r * d, X + i * d, d * sizeof(floating))
        memcpy(yb + r * ky, y + i * ky, ky * sizeof(floating))
        if s != NULL:
            sb[r] = s[i]
    job.losses[c] = _backprop(A, yb, sb if s != NULL else NULL, m, job.chunk_rows, <const floating *> job.params,
                              job.sizes, job.n_layers, job.activation, job.output, ky,
                              <floating *> job.grads + c * job.n_params,
                              <floating *> job.delta + c * job.chunk_rows * job.widest,
                              <floating *> job.below + c * job.chunk_rows * job.widest,
                              <floating *> job.live + c * job.n_hidden, job.scratch + c * job.scratch_size,
                              job.inverse)


cdef void _run_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi) noexcept nogil:
    """``fgd_run_chunks``'s entry: chunk ``c`` in the batch's element type."""
    cdef const _Batch *job = <const _Batch *> job_
    if job.is_float32:
        _chunk(job, <const float *> job.X, c, lo, hi)
    else:
        _chunk(job, <const double *> job.X, c, lo, hi)


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
    cdef Py_ssize_t n = X.shape[0], n_layers = sizes.shape[0] - 1, n_params = params.shape[0]
    cdef Py_ssize_t rows = batch_size if batch_size < n else n, n_scalars = scalars.shape[0]
    cdef Py_ssize_t n_weights = 0, l, start, m, r, j, c
    cdef _Batch job
    job.is_float32 = floating is float
    job.X, job.y, job.d, job.ky = &X[0, 0], &y[0, 0], X.shape[1], y.shape[1]
    job.s = &sample_weight[0] if sample_weight is not None else NULL
    job.params, job.sizes, job.n_layers, job.n_params = &params[0], &sizes[0], n_layers, n_params
    job.n_hidden, job.activation, job.output = active.shape[0], activation, output
    job.widest, job.width_sum = 1, 0
    for l in range(n_layers):
        n_weights += sizes[l] * sizes[l + 1]
    for l in range(n_layers + 1):
        job.width_sum += sizes[l]
        job.widest = max(job.widest, sizes[l])
    cdef int chunks = fgd_n_chunks(n_threads, rows, rows * n_weights, FGD_MIN_WORK)
    # the epoch's threads are already running: the update splits at fewer elements than a lone optimizer step
    cdef int update_chunks = fgd_n_chunks(chunks, n_weights, n_weights, HOT_UPDATE_ELEMENTS)
    job.chunk_rows = (rows + chunks - 1) // chunks
    cdef Py_ssize_t chunk_values = chunks * job.chunk_rows
    job.A = malloc(chunk_values * job.width_sum * sizeof(floating))
    job.yb = malloc(chunk_values * job.ky * sizeof(floating))
    job.sb = malloc(chunk_values * sizeof(floating))
    job.delta = malloc(chunk_values * job.widest * sizeof(floating))
    job.below = malloc(chunk_values * job.widest * sizeof(floating))
    job.grads = malloc(chunks * n_params * sizeof(floating))
    job.live = calloc(chunks * job.n_hidden + 1, sizeof(floating))
    job.scratch_size = max(job.widest, job.chunk_rows * (sizes[n_layers] + 1) + sizes[n_layers] + 2)
    job.scratch = <double *> malloc(chunks * job.scratch_size * sizeof(double))
    job.losses = <double *> malloc(chunks * sizeof(double))
    cdef floating *recorded = <floating *> malloc(n_params * sizeof(floating))
    cdef double *grad_sum = <double *> calloc(n_params, sizeof(double))
    cdef double *weight_scalars = <double *> malloc((n_scalars + 1) * sizeof(double))
    cdef void *buffers[12]
    buffers[:] = [job.A, job.yb, job.sb, job.delta, job.below, job.grads, job.live, job.scratch, job.losses,
                  recorded, grad_sum, weight_scalars]
    for j in range(12):
        if buffers[j] == NULL:
            for j in range(12):
                free(buffers[j])
            raise MemoryError()
    cdef int is_float32 = floating is float
    cdef floating *grad = <floating *> job.grads  # chunk 0's gradient receives the others'
    cdef floating *stepped = grad if decoupled else recorded
    cdef double batch_loss, batch_weight, penalty, raw, clipped, grad_scale, t, loss_sum = 0.0, weight_sum = 0.0
    cdef Py_ssize_t n_steps = 0
    with nogil:
        start = 0
        while start < n:
            m = batch_size if batch_size < n - start else n - start
            batch_weight = <double> m
            if job.s != NULL:
                batch_weight = 0.0
                for r in range(m):
                    batch_weight += <double> sample_weight[order[start + r]]
            job.order = &order[start]
            start += m
            if batch_weight == 0.0:
                continue
            job.inverse = 1.0 / batch_weight
            fgd_run_chunks(_run_chunk, &job, m, chunks if chunks < m else <int> m)
            batch_loss = job.losses[0]
            for c in range(1, chunks if chunks < m else m):
                fgd_add_into(is_float32, grad, grad + c * n_params, n_params)
                batch_loss += job.losses[c]
            penalty = fgd_add_penalty(is_float32, recorded, grad, &params[0], n_weights, alpha)
            memcpy(recorded + n_weights, grad + n_weights, (n_params - n_weights) * sizeof(floating))
            grad_scale = 1.0
            if not isinf(clip_norm):
                fgd_squared_norm(is_float32, stepped, n_params, clip_value, 1, &raw, &clipped)
                grad_scale = min(1.0, clip_norm / (sqrt(clipped) + 1e-6))
            n_steps += 1
            t = <double> (step + n_steps)
            memcpy(weight_scalars, &scalars[0], n_scalars * sizeof(double))
            fgd_optimizer_update_in_chunks(is_float32, optimizer, &params[0], stepped, &state[0, 0], n_params,
                                           n_weights, &hyper[0], t, weight_scalars, clip_value, grad_scale,
                                           update_chunks)
            fgd_optimizer_update_in_chunks(is_float32, optimizer, &params[n_weights], stepped + n_weights,
                                           &state[0, n_weights], n_params, n_params - n_weights, &intercept_hyper[0],
                                           t, &scalars[0], clip_value, grad_scale, 1)
            fgd_accumulate(is_float32, grad_sum, recorded, n_params)
            loss_sum += (batch_loss + 0.5 * alpha * penalty) * batch_weight
            weight_sum += batch_weight
        for j in range(n_params):
            grad_mean[j] = grad_sum[j] / (n_steps if n_steps > 0 else 1)
        for c in range(chunks):
            for j in range(job.n_hidden):
                if (<floating *> job.live)[c * job.n_hidden + j] > 0:
                    active[j] = 1
    for j in range(12):
        free(buffers[j])
    return (loss_sum / weight_sum if weight_sum > 0.0 else float("nan")), n_steps
