/* Threads and element types for every kernel of fastgd_core, written once.
 *
 * A kernel splits its n items (rows or elements) into contiguous chunks,
 * runs each chunk on one thread, and adds the chunks' partial sums in chunk
 * order.  The number of chunks depends on the requested n_threads and the
 * size of the work only, never on the machine, so a result is deterministic
 * for a given n_threads; the number of OS threads is at most the usable
 * cores.  Without OpenMP the same chunks run one after the other.
 *
 * Arrays cross the Cython boundary as untyped pointers with a flag,
 * is_float32; FGD_TYPED calls the float or the double variant of a C kernel.
 */
#ifndef FASTGD_PARALLEL_H
#define FASTGD_PARALLEL_H

#include <stddef.h>

#include "_dispatch.h"
#ifdef _OPENMP
#  include <omp.h>
#endif

#define FGD_MAX_CHUNKS 64
#define FGD_MIN_ELEMENTS (1 << 18) /* optimizer elements below which one chunk runs (threads do not pay) */
#define FGD_MIN_WORK (1 << 16)     /* rows x max(d, 1) of a loss kernel below which one chunk runs */

/* How many chunks for `items` items and `work` units of work: n_threads,
 * capped at FGD_MAX_CHUNKS and at one item per chunk; 1 when work < min_work. */
static inline int fgd_n_chunks(int n_threads, ptrdiff_t items, ptrdiff_t work, ptrdiff_t min_work)
{
    if (n_threads <= 1 || work < min_work)
        return 1;
    ptrdiff_t chunks = n_threads < FGD_MAX_CHUNKS ? n_threads : FGD_MAX_CHUNKS;
    return (int)(chunks < items ? chunks : (items > 1 ? items : 1));
}

/* The work of chunk c: items [lo, hi). */
typedef void (*fgd_chunk_fn)(void *job, int c, ptrdiff_t lo, ptrdiff_t hi);

/* run(job, c, lo, hi) for the chunks c < chunks of [0, n), in parallel on
 * min(chunks, usable cores) threads; a single chunk runs on the calling thread. */
static inline void fgd_run_chunks(fgd_chunk_fn run, void *job, ptrdiff_t n, int chunks)
{
    if (chunks <= 1) {
        run(job, 0, 0, n);
        return;
    }
#ifdef _OPENMP
    int cores = omp_get_num_procs(); /* the CPUs of this process's affinity mask */
    int threads = chunks < cores ? chunks : cores;
#  pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (int c = 0; c < chunks; c++)
        run(job, c, c * n / chunks, (c + 1) * n / chunks);
}

/* Sum of the chunks' partial sums, in chunk order. */
static inline double fgd_sum_chunks(const double *partial, int chunks)
{
    double total = 0.0;
    for (int c = 0; c < chunks; c++)
        total += partial[c];
    return total;
}

/* ------------------------------------------------------- element types */

/* name_f(...) for float data, name_d(...) for double, in the selected
 * instruction set's variant (FGD_ISA_CALL, _dispatch.h): the untyped
 * pointers among the arguments convert to either. */
#define FGD_TYPED(is_float32, name, ...) \
    ((is_float32) ? FGD_ISA_CALL(name##_f, __VA_ARGS__) : FGD_ISA_CALL(name##_d, __VA_ARGS__))

/* &a[i] of an array of floats or doubles. */
static inline void *fgd_at(const void *a, ptrdiff_t i, int is_float32)
{
    return (char *)a + i * (ptrdiff_t)(is_float32 ? sizeof(float) : sizeof(double));
}

/* a[i] = x, rounded to float for float data. */
static inline void fgd_store(void *a, ptrdiff_t i, double x, int is_float32)
{
    if (is_float32)
        ((float *)a)[i] = (float)x;
    else
        ((double *)a)[i] = x;
}

#endif /* FASTGD_PARALLEL_H */
