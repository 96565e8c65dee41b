"""py-pde: custom PDE class with a numba-compiled SG operator, explicit Euler at the stability limit.

dt = 1/max_i(−G_ii) rounded down to T/N (N = ⌈T·max_i(−G_ii)⌉): the largest step with I + Δt G
entrywise non-negative, which by Gershgorin on the columns (spectrum of G in [−2 max(−G_ii), 0])
is also the explicit Euler stability limit (the true spectral limit 2/|λ_min| is larger by only
0.7 % at L = 64, 0.2 % at L = 128). Solved with py-pde's `solver="euler"` (EulerSolver), `adaptive=False`,
no trackers, numba backend. solve_s = py-pde's own profiler "solver" time (wall clock, see _pypde_sg.py)
(the stepping loop); numba compilation is reported separately as compile_s and counts in total.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import common  # noqa: E402
from _pypde_sg import SGRelaxPDE, rho_yx  # noqa: E402


def main():
    L = common.parse_L()
    eq = SGRelaxPDE(L)
    state = eq.initial_state()
    dmax = float(np.max(-eq.generator_xmajor().diagonal()))
    N = math.ceil(common.T * dmax)
    dt = common.T / N
    result, info = eq.solve(state, t_range=common.T, dt=dt, solver="euler",
                            adaptive=False, tracker=None, backend="numba", ret_info=True)
    prof = info["controller"]["profiler"]
    steps = info["solver"].get("steps", N)
    common.summarize("py-pde explicit Euler", L, rho_yx(result), prof["solver"], steps,
                     notes=f"dt = 1/max(-G_ii) = {dt:.3g}",
                     compile_s=round(prof.get("compilation", float("nan")), 3))


if __name__ == "__main__":
    main()
