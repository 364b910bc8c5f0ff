"""Thread handling shared by the Numba kernels: how many chunks, and running them."""

import numba

MIN_CHUNK = 1 << 15  # work units per thread below which another thread does not pay


def n_chunks_for(work, n_threads):
    """One chunk per thread, fewer when a thread would get under ``MIN_CHUNK`` work
    units (one unit ~ one element of X or one parameter); a thread costs ~10 us to start."""
    n_threads = min(int(n_threads), numba.config.NUMBA_NUM_THREADS)
    return max(1, min(n_threads, work // MIN_CHUNK))


def run_parallel(kernel, n_chunks, *args):
    """``kernel(*args, n_chunks)`` on ``n_chunks`` threads; the thread count is restored."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n_chunks)
    try:
        return kernel(*args, n_chunks)
    finally:
        numba.set_num_threads(previous)
