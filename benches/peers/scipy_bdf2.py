"""Plain scipy: SG generator, one `splu` per matrix, BDF2 with N = 6 fixed steps.

Start: the first step is two implicit Euler half steps (I − ½Δt G) (BDF2 needs two back values);
steps 2…N are BDF2 (I − ⅔Δt G) p_{n+1} = (4/3) p_n − (1/3) p_{n−1}. Each of the two matrices is
factorised once with scipy.sparse.linalg.splu (SuperLU, COLAMD ordering). solve_s = both
factorisations + all solves. This start reproduces the issue's 8.0e-4; a single full implicit
Euler start step gives 1.9e-3 at N = 6 (and an exact start 1.9e-3 too: at N = 6 the two-half-step
start's first-order error partly cancels BDF2's own error; see README).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.linalg import splu  # noqa: E402

import common  # noqa: E402

N = int(os.environ.get("PEERS_BDF2_N", "6"))


def main():
    L = common.parse_L()
    G = common.sg_generator(L)
    p = common.p0(L)
    n = L * L
    dt = common.T / N
    I = sp.identity(n, format="csc")
    t0 = time.perf_counter()
    lu1 = splu((I - 0.5 * dt * G).tocsc())
    lu2 = splu((I - (2.0 / 3.0) * dt * G).tocsc())
    p_prev, p = p, lu1.solve(lu1.solve(p))
    for _ in range(N - 1):
        p_prev, p = p, lu2.solve((4.0 * p - p_prev) / 3.0)
    solve_s = time.perf_counter() - t0
    common.summarize("scipy BDF2", L, p * n, solve_s, N,
                     notes=f"splu x2; start = 2 IE half steps; N = {N}")


if __name__ == "__main__":
    main()
