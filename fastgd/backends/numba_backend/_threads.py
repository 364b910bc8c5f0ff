"""The chunk policy of the Numba kernels, in one place: how many chunks, and running them.

A parallel kernel splits its work into ``n_chunks`` contiguous chunks
(:func:`chunk`), each with its own partial sums, combined in chunk order.  The
number of chunks depends only on the work and the requested ``n_threads``,
never on the machine, so results are deterministic for a given ``n_threads``;
the chunks run on at most ``numba.config.NUMBA_NUM_THREADS`` threads, a thread
taking several chunks in turn when there are more chunks than threads.
"""

import numba

from fastgd.backends.numba_backend._cache import fastgd_njit

MIN_CHUNK = 1 << 15  # work units per chunk below which another chunk does not pay
MAX_CHUNKS = 64


def n_chunks_for(work, n_threads):
    """One chunk per requested thread (at most ``MAX_CHUNKS``), fewer when a chunk
    would get under ``MIN_CHUNK`` work units (one unit ~ one element of X or one
    parameter); a thread costs ~10 us to start."""
    return max(1, min(int(n_threads), MAX_CHUNKS, work // MIN_CHUNK))


def run_parallel(kernel, n_chunks, *args):
    """``kernel(*args, n_chunks)`` on ``min(n_chunks, NUMBA_NUM_THREADS)`` threads;
    the thread count is restored."""
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_chunks, numba.config.NUMBA_NUM_THREADS))
    try:
        return kernel(*args, n_chunks)
    finally:
        numba.set_num_threads(previous)


@fastgd_njit(inline="always", nogil=True)
def chunk(c, n, n_chunks):
    """The bounds ``[lo, hi)`` of chunk ``c`` of ``n_chunks`` over ``range(n)``."""
    return c * n // n_chunks, (c + 1) * n // n_chunks
