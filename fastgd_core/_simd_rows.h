/* Kernels for one element type FGD_T (float or double), named by FGD_NAME;
 * included twice by _simd.h.  X is row-major (n, d), w is (d,), both FGD_T.
 * Sums over rows and over a row's groups are accumulated in double; for float
 * data only a few products (FGD_GROUP of a row, eight rows of a column) are
 * added in float before widening, which bounds the error by ~8 float ulps of
 * those terms, independently of n and d. */

/* z[k] = X[k] . w + b for k < m.  Products are summed in FGD_T over groups of
 * FGD_GROUP x FGD_LANES consecutive elements, then in double: FGD_LANES partial
 * sums over the groups, added pairwise, plus the remaining elements (a fixed
 * order). */
FGD_INLINE void FGD_NAME(fgd_dot_rows)(const FGD_T *FGD_RESTRICT X, ptrdiff_t m, ptrdiff_t d,
                                       const FGD_T *FGD_RESTRICT w, double b,
                                       double *FGD_RESTRICT z)
{
    for (ptrdiff_t k = 0; k < m; k++) {
        const FGD_T *x = X + k * d;
        double a[FGD_LANES] = {0.0}, tail = 0.0;
        ptrdiff_t j = 0;
        for (; j + FGD_GROUP * FGD_LANES <= d; j += FGD_GROUP * FGD_LANES) {
            FGD_T p[FGD_LANES];
            for (int q = 0; q < FGD_LANES; q++)
                p[q] = x[j + q] * w[j + q];
            for (int r = 1; r < FGD_GROUP; r++)
                for (int q = 0; q < FGD_LANES; q++)
                    p[q] += x[j + r * FGD_LANES + q] * w[j + r * FGD_LANES + q];
            for (int q = 0; q < FGD_LANES; q++)
                a[q] += (double)p[q];
        }
        for (; j < d; j++)
            tail += (double)(x[j] * w[j]);
        z[k] = (fgd_sum_lanes(a, FGD_LANES) + tail) + b;
    }
}

/* grad[j] += sum_k g[k] X[k, j] over k < m: eight rows per pass over grad,
 * their products summed pairwise in FGD_T, then added to grad in double. */
FGD_INLINE void FGD_NAME(fgd_axpy_rows)(const FGD_T *FGD_RESTRICT X, ptrdiff_t m, ptrdiff_t d,
                                        const double *FGD_RESTRICT g, double *FGD_RESTRICT grad)
{
    ptrdiff_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const FGD_T *x0 = X + k * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        const FGD_T *x4 = x3 + d, *x5 = x4 + d, *x6 = x5 + d, *x7 = x6 + d;
        FGD_T g0 = (FGD_T)g[k], g1 = (FGD_T)g[k + 1], g2 = (FGD_T)g[k + 2], g3 = (FGD_T)g[k + 3];
        FGD_T g4 = (FGD_T)g[k + 4], g5 = (FGD_T)g[k + 5], g6 = (FGD_T)g[k + 6], g7 = (FGD_T)g[k + 7];
        for (ptrdiff_t j = 0; j < d; j++)
            grad[j] += (double)(((g0 * x0[j] + g1 * x1[j]) + (g2 * x2[j] + g3 * x3[j]))
                                + ((g4 * x4[j] + g5 * x5[j]) + (g6 * x6[j] + g7 * x7[j])));
    }
    for (; k < m; k++) {
        const FGD_T *x0 = X + k * d;
        FGD_T g0 = (FGD_T)g[k];
        for (ptrdiff_t j = 0; j < d; j++)
            grad[j] += (double)(g0 * x0[j]);
    }
}

/* Rows per block: a block of X is read from memory by the dot products and
 * again from cache by the gradient update. */
FGD_INLINE ptrdiff_t FGD_NAME(fgd_block_rows)(ptrdiff_t d)
{
    ptrdiff_t rows = FGD_BLOCK_BYTES / ((d > 0 ? d : 1) * (ptrdiff_t)sizeof(FGD_T));
    rows &= ~(ptrdiff_t)7;
    return rows < 8 ? 8 : rows > FGD_BLOCK_MAX ? FGD_BLOCK_MAX : rows;
}

/* Loss and gradient sums over rows [0, n) at z = X w + b, added to grad and acc:
 *   grad[j] += sum_i s_i dl/dz_i X[i, j],
 *   acc[0] += sum_i s_i l_i,  acc[1] += sum_i s_i dl/dz_i,  acc[2] += sum_i s_i,
 * with s_i = sw[i] (1 when sw is NULL) and l, dl/dz those of `loss`
 * (FGD_LOGISTIC: fgd_logistic_term; FGD_SQUARED: l = (z - y)^2 / 2, dl/dz = z - y).
 * Each row of X is read from memory once: blockwise, z for the block, then l and
 * dl/dz for the block (vectorized exp/log1p), then the block's gradient terms. */
FGD_DISPATCHED void FGD_NAME(fgd_loss_grad_rows)(int loss, const FGD_T *X, const FGD_T *y,
                                                 const FGD_T *sw, ptrdiff_t n, ptrdiff_t d,
                                                 const FGD_T *w, double b, double *grad, double *acc)
{
    double z[FGD_BLOCK_MAX], l[FGD_BLOCK_MAX], g[FGD_BLOCK_MAX], s[FGD_BLOCK_MAX];
    ptrdiff_t rows = FGD_NAME(fgd_block_rows)(d);
    for (ptrdiff_t i = 0; i < n; i += rows) {
        ptrdiff_t m = n - i < rows ? n - i : rows;
        const FGD_T *Xi = X + i * d, *yi = y + i;
        FGD_NAME(fgd_dot_rows)(Xi, m, d, w, b, z);
        if (loss == FGD_LOGISTIC) {
            for (ptrdiff_t k = 0; k < m; k++)
                l[k] = fgd_logistic_term(z[k], (double)yi[k], &g[k]);
        } else {
            for (ptrdiff_t k = 0; k < m; k++) {
                double r = z[k] - (double)yi[k];
                l[k] = 0.5 * r * r;
                g[k] = r;
            }
        }
        if (sw != NULL) {
            for (ptrdiff_t k = 0; k < m; k++) {
                s[k] = (double)sw[i + k];
                l[k] *= s[k];
                g[k] *= s[k];
            }
            acc[2] += fgd_sum(s, m);
        } else {
            acc[2] += (double)m;
        }
        acc[0] += fgd_sum(l, m);
        acc[1] += fgd_sum(g, m);
        FGD_NAME(fgd_axpy_rows)(Xi, m, d, g, grad);
    }
}

/* out[i] = X[i] . w + b for i < n, computed in double. */
FGD_DISPATCHED void FGD_NAME(fgd_predict_rows)(const FGD_T *X, ptrdiff_t n, ptrdiff_t d,
                                               const FGD_T *w, double b, FGD_T *out)
{
    double z[FGD_BLOCK_MAX];
    ptrdiff_t rows = FGD_NAME(fgd_block_rows)(d);
    for (ptrdiff_t i = 0; i < n; i += rows) {
        ptrdiff_t m = n - i < rows ? n - i : rows;
        FGD_NAME(fgd_dot_rows)(X + i * d, m, d, w, b, z);
        for (ptrdiff_t k = 0; k < m; k++)
            out[i + k] = (FGD_T)z[k];
    }
}

/* out[i] = sigmoid(z[i]) (fgd_sigmoid); out may be z. */
FGD_DISPATCHED void FGD_NAME(fgd_sigmoid_array)(const FGD_T *z, FGD_T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = (FGD_T)fgd_sigmoid((double)z[i]);
}

/* out[i] = log1pexp(z[i]) (fgd_log1pexp); out may be z. */
FGD_DISPATCHED void FGD_NAME(fgd_log1pexp_array)(const FGD_T *z, FGD_T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = (FGD_T)fgd_log1pexp((double)z[i]);
}

/* The softmax cross-entropy of a block of m rows of logits: z = Z + b (b may be NULL: no bias), per
 * row the stable lse = top + log(sum_c exp(z_c - top)) with top = max_c z_c, the loss lse - z_label,
 * and G = s (softmax(z) - onehot(label)) written to G (which may be Z).  Adds sum s l, sum s and
 * sum G (k) to acc (acc[0], acc[1], acc[2 .. 2 + k)).  e (m k doubles) and top (m doubles) are
 * scratch: the exponentials of the whole block are one contiguous, vectorized pass.  y holds the
 * labels (as FGD_T), sw the weights (NULL: unit weights). */
FGD_DISPATCHED void FGD_NAME(fgd_softmax_block)(const FGD_T *Z, const FGD_T *FGD_RESTRICT b,
                                                const FGD_T *FGD_RESTRICT y, const FGD_T *FGD_RESTRICT sw,
                                                ptrdiff_t m, ptrdiff_t k, FGD_T *G, double *FGD_RESTRICT e,
                                                double *FGD_RESTRICT top, double *FGD_RESTRICT acc)
{
    for (ptrdiff_t r = 0; r < m; r++) {
        double t = -INFINITY;
        for (ptrdiff_t c = 0; c < k; c++) {
            double z = (double)Z[r * k + c] + (b == NULL ? 0.0 : (double)b[c]);
            e[r * k + c] = z;
            t = z > t ? z : t;
        }
        top[r] = t;
    }
    for (ptrdiff_t r = 0; r < m; r++)
        for (ptrdiff_t c = 0; c < k; c++)
            e[r * k + c] -= top[r];
    for (ptrdiff_t i = 0; i < m * k; i++) /* e = exp(z - top): one exponential per logit */
        e[i] = fgd_exp_nonpos(e[i]);
    for (ptrdiff_t r = 0; r < m; r++) {
        ptrdiff_t label = (ptrdiff_t)y[r];
        double total = 0.0, sr = sw == NULL ? 1.0 : (double)sw[r];
        for (ptrdiff_t c = 0; c < k; c++)
            total += e[r * k + c];
        double z_label = (double)Z[r * k + label] + (b == NULL ? 0.0 : (double)b[label]);
        acc[0] += sr * ((top[r] - z_label) + log(total)); /* lse - z_label */
        acc[1] += sr;
        for (ptrdiff_t c = 0; c < k; c++) { /* softmax = exp(z - top) / total */
            double g = sr * (e[r * k + c] / total - (c == label ? 1.0 : 0.0));
            G[r * k + c] = (FGD_T)g;
            acc[2 + c] += g;
        }
    }
}
