"""py-pde: same custom PDE class / numba SG operator, scipy BDF with the sparse Jacobian.

`solver="scipy"` forwards its keyword arguments to scipy.integrate.solve_ivp: method="BDF",
jac = the SG generator in py-pde's flat order (scipy.sparse CSC; the RHS is linear, so G is the
exact Jacobian), rtol = 1e-4 (env PEERS_BDF_RTOL), atol = 1e-6 (solve_ivp's default), no trackers
(py-pde's default trackers interrupt the integration, and every restart of solve_ivp costs accuracy
and time). rtol = 1e-4 gives the issue's 2e-5; solve_ivp's default rtol = 1e-3 gives 6.8e-5 at
L = 128. solve_s = py-pde's profiler "solver" time; numba compilation counts in total.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from _pypde_sg import SGRelaxPDE, rho_yx  # noqa: E402


RTOL = float(os.environ.get("PEERS_BDF_RTOL", "1e-4"))


def main():
    L = common.parse_L()
    eq = SGRelaxPDE(L)
    state = eq.initial_state()
    jac = eq.generator_xmajor()
    result, info = eq.solve(state, t_range=common.T, solver="scipy", method="BDF", jac=jac, rtol=RTOL,
                            tracker=None, backend="numba", ret_info=True)
    prof = info["controller"]["profiler"]
    steps = info["solver"].get("steps")
    common.summarize("py-pde scipy BDF", L, rho_yx(result), prof["solver"], steps,
                     notes=f"solve_ivp BDF, sparse jac, rtol {RTOL:g}, atol 1e-6; steps = RHS evals",
                     compile_s=round(prof.get("compilation", float("nan")), 3))


if __name__ == "__main__":
    main()
