"""Plain scipy: SG generator, one `splu` of (I − Δt G), implicit Euler with N = 80 fixed steps.

solve_s = factorisation + steps.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.linalg import splu  # noqa: E402

import common  # noqa: E402

N = int(os.environ.get("PEERS_EULER_N", "80"))


def main():
    L = common.parse_L()
    G = common.sg_generator(L)
    p = common.p0(L)
    n = L * L
    dt = common.T / N
    t0 = time.perf_counter()
    lu = splu((sp.identity(n, format="csc") - dt * G).tocsc())
    for _ in range(N):
        p = lu.solve(p)
    solve_s = time.perf_counter() - t0
    common.summarize("scipy implicit Euler", L, p * n, solve_s, N, notes=f"splu x1, N = {N}")


if __name__ == "__main__":
    main()
