/* The elementwise passes of a network's layers for one element type FGD_T
 * (float or double), named by FGD_NAME; included twice by _network.h.
 *
 * Each is one pass over a (rows x width) block that a BLAS product has just
 * written or is about to read, with the activation chosen once, outside the
 * loop, so that the loop vectorizes (ReLU, identity and the derivatives are
 * plain FGD_T arithmetic, as the NumPy reference computes them; tanh and the
 * sigmoid go through double). */

/* Z[r, c] = act(Z[r, c] + bias[c]) over a (m x b) block; live[c] = max(live[c], |Z[r, c]|). */
FGD_DISPATCHED void FGD_NAME(fgd_bias_activate)(int activation, FGD_T *FGD_RESTRICT Z, const FGD_T *FGD_RESTRICT bias,
                                                ptrdiff_t m, ptrdiff_t b, FGD_T *FGD_RESTRICT live)
{
    for (ptrdiff_t r = 0; r < m; r++) {
        FGD_T *FGD_RESTRICT row = Z + r * b;
        switch (activation) {
        case FGD_ACT_RELU:
            for (ptrdiff_t c = 0; c < b; c++) {
                FGD_T z = row[c] + bias[c];
                z = z > 0 ? z : 0;
                row[c] = z;
                live[c] = live[c] > z ? live[c] : z;
            }
            break;
        case FGD_ACT_IDENTITY:
            for (ptrdiff_t c = 0; c < b; c++) {
                FGD_T z = row[c] + bias[c], size = z < 0 ? -z : z;
                row[c] = z;
                live[c] = live[c] > size ? live[c] : size;
            }
            break;
        default: /* logistic, tanh: through double */
            for (ptrdiff_t c = 0; c < b; c++) {
                double z = (double)row[c] + (double)bias[c];
                FGD_T a = (FGD_T)(activation == FGD_ACT_TANH ? tanh(z) : fgd_sigmoid(z)), size = a < 0 ? -a : a;
                row[c] = a;
                live[c] = live[c] > size ? live[c] : size;
            }
        }
    }
}

/* The output layer: Z[r, c] += bias[c] over a (m x b) block. */
FGD_DISPATCHED void FGD_NAME(fgd_add_bias)(FGD_T *FGD_RESTRICT Z, const FGD_T *FGD_RESTRICT bias, ptrdiff_t m,
                                           ptrdiff_t b)
{
    for (ptrdiff_t r = 0; r < m; r++)
        for (ptrdiff_t c = 0; c < b; c++)
            Z[r * b + c] += bias[c];
}

/* delta[i] *= act'(A[i]) over [0, n), act' written with the activation's output A. */
FGD_DISPATCHED void FGD_NAME(fgd_times_derivative)(int activation, FGD_T *FGD_RESTRICT delta,
                                                   const FGD_T *FGD_RESTRICT A, ptrdiff_t n)
{
    switch (activation) {
    case FGD_ACT_RELU:
        for (ptrdiff_t i = 0; i < n; i++)
            delta[i] *= A[i] > 0 ? (FGD_T)1 : (FGD_T)0;
        break;
    case FGD_ACT_LOGISTIC:
        for (ptrdiff_t i = 0; i < n; i++)
            delta[i] *= A[i] * (1 - A[i]);
        break;
    case FGD_ACT_TANH:
        for (ptrdiff_t i = 0; i < n; i++)
            delta[i] *= 1 - A[i] * A[i];
        break;
    default: /* identity: act' = 1 */
        break;
    }
}

/* sums[c] = sum_r delta[r, c] over a (m x b) block, accumulated in double row after row. */
FGD_DISPATCHED void FGD_NAME(fgd_column_sums)(const FGD_T *FGD_RESTRICT delta, ptrdiff_t m, ptrdiff_t b,
                                              double *FGD_RESTRICT sums)
{
    for (ptrdiff_t c = 0; c < b; c++)
        sums[c] = 0.0;
    for (ptrdiff_t r = 0; r < m; r++)
        for (ptrdiff_t c = 0; c < b; c++)
            sums[c] += (double)delta[r * b + c];
}

/* The L2 term on the weights [0, n): out[j] = grad[j] + alpha w[j]; returns sum w[j]^2 (double). */
FGD_DISPATCHED double FGD_NAME(fgd_add_penalty)(FGD_T *FGD_RESTRICT out, const FGD_T *FGD_RESTRICT grad,
                                                const FGD_T *FGD_RESTRICT w, ptrdiff_t n, double alpha)
{
    double squares = 0.0;
    FGD_SIMD_REDUCTION(squares)
    for (ptrdiff_t j = 0; j < n; j++) {
        double wj = (double)w[j];
        squares += wj * wj;
        out[j] = (FGD_T)((double)grad[j] + alpha * wj);
    }
    return squares;
}

/* total[j] += g[j] over [0, n). */
FGD_DISPATCHED void FGD_NAME(fgd_accumulate)(double *FGD_RESTRICT total, const FGD_T *FGD_RESTRICT g, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        total[j] += (double)g[j];
}

/* out[j] += part[j] over [0, n) (the chunks' gradients of a batch, added in chunk order). */
FGD_DISPATCHED void FGD_NAME(fgd_add_into)(FGD_T *FGD_RESTRICT out, const FGD_T *FGD_RESTRICT part, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        out[j] += part[j];
}
