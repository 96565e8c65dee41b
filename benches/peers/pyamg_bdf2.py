"""pyamg: BDF2 with N = 6 fixed steps, every step's system solved by CG + Ruge–Stüben AMG.

The same time stepping as scipy_bdf2.py, with AMG-preconditioned CG in place of splu:
start = two implicit Euler half steps (I − ½Δt G) (BDF2 needs two back values), then N − 1 BDF2
steps (I − ⅔Δt G) p_{n+1} = (4/3) p_n − (1/3) p_{n−1}. N = 6 is the fewest steps that reach
rel. L1 ≤ 1e-3 at every L measured (N = 5: 1.13e-3, N = 6: 8.0e-4, with splu and with these CG
solves alike; env PEERS_PYAMG_N).

Symmetrisation: G is reversible, G = D S D⁻¹ with D = diag(√π), π ∝ q (the masses' equilibrium
q h², the h² cancels), S symmetric (S_ki = √(G_ki G_ik), S_ii = G_ii). So the whole run is done in
y = D⁻¹p: (I − γΔt S) y_{n+1} = D⁻¹(rhs), and p(T) = D y at the end. A = I − γΔt S is SPD
(S ≤ 0), so CG applies. S is formed as D⁻¹GD and averaged with its transpose (exactly symmetric).

AMG: pyamg.ruge_stuben_solver(A) with pyamg's defaults (classical strength θ = 0.25, RS C/F
splitting, classical interpolation, symmetric Gauss–Seidel pre- and post-smoothing, so the
V-cycle is an SPD preconditioner), one hierarchy per matrix (I − ½Δt S and I − ⅔Δt S), built
once, inside solve. Why Ruge–Stüben rather than smoothed aggregation: A is a symmetric M-matrix
(positive diagonal, off-diagonals −γΔt S_ki ≤ 0) from a 5-point stencil, classical AMG's home
ground, and measured here it is the faster of the two: 5–6 CG iterations per solve against 7–9
for SA, and a cheaper setup, despite its larger operator complexity (2.2 against 1.34); at
L = 512, one solve 0.22 s against 0.39 s, one setup 0.19 s against 0.43 s (one core). SA, with
the symmetrised operator's near-null vector √q as its candidate B (B = 1 gives the same
iterations), is kept as env PEERS_PYAMG_AMG=sa.

CG: pyamg's own (`ml.solve(accel="cg")`), stopping at ‖r‖₂ ≤ tol·‖b‖₂ with tol = 1e-8 (env
PEERS_PYAMG_TOL). At L = 256 the error is 8.018205e-4 against splu's 8.018206e-4 (tol 1e-6:
8.01835e-4), and the mass error, which CG leaves (an exact solve conserves mass), is 3e-11
(tol 1e-6: 5e-9, 1e-10: 2e-13, at 5–6 instead of 4 iterations). Initial guess: the previous
step's y. The CG iterations of every solve are in `notes` and `cg_iters`.

solve_s = forming S and the two shifted matrices + both AMG setups + all CG solves (scipy_bdf2's
convention: its factorisations are in solve, the assembly of G is not); setup_s = the AMG setups
alone; assembly_s = common.sg_generator and √q (not in solve_s).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import pyamg  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import common  # noqa: E402

N = int(os.environ.get("PEERS_PYAMG_N", "6"))
TOL = float(os.environ.get("PEERS_PYAMG_TOL", "1e-8"))
AMG = os.environ.get("PEERS_PYAMG_AMG", "rs")


def hierarchy(A, sqrt_q):
    if AMG == "rs":
        return pyamg.ruge_stuben_solver(A)
    if AMG == "sa":
        return pyamg.smoothed_aggregation_solver(A, B=sqrt_q[:, None], symmetry="symmetric")
    raise SystemExit(f"PEERS_PYAMG_AMG must be sa or rs, not {AMG!r}")


def main():
    L = common.parse_L()
    n = L * L
    dt = common.T / N
    ta = time.perf_counter()
    G = common.sg_generator(L)
    sqrt_q = np.sqrt(common.q_grid(L).ravel())
    assembly_s = time.perf_counter() - ta

    iters = []

    def cg(ml, b, x0):
        res = []
        x = ml.solve(b, x0=x0, tol=TOL, maxiter=200, accel="cg", residuals=res)
        iters.append(len(res) - 1)
        return x

    t0 = time.perf_counter()
    Dm, Dp = sp.diags(1.0 / sqrt_q), sp.diags(sqrt_q)
    S = (Dm @ G @ Dp).tocsr()
    S = ((S + S.T) * 0.5).tocsr()
    I = sp.identity(n, format="csr")
    A1 = (I - 0.5 * dt * S).tocsr()
    A2 = (I - (2.0 / 3.0) * dt * S).tocsr()
    ts = time.perf_counter()
    ml1 = hierarchy(A1, sqrt_q)
    ml2 = hierarchy(A2, sqrt_q)
    setup_s = time.perf_counter() - ts
    y = common.p0(L) / sqrt_q
    y_prev = y
    y = cg(ml1, y, y)
    y = cg(ml1, y, y)
    for _ in range(N - 1):
        y_prev, y = y, cg(ml2, (4.0 * y - y_prev) / 3.0, y)
    solve_s = time.perf_counter() - t0
    p = sqrt_q * y

    levels = [lvl.A.shape[0] for lvl in ml2.levels]
    its = ",".join(map(str, iters))
    common.summarize(
        "pyamg BDF2", L, p * n, solve_s, N,
        notes=(f"CG + {AMG.upper()} AMG (V-cycle, {len(levels)} levels, operator complexity "
               f"{ml2.operator_complexity():.2f}), tol {TOL:g}; CG iterations per solve {its}; "
               f"start = 2 IE half steps; N = {N}; AMG setup {setup_s:.3f} s (in solve)"),
        assembly_s=round(assembly_s, 4), setup_s=round(setup_s, 4), cg_iters=iters, amg=AMG,
        cg_tol=TOL)


if __name__ == "__main__":
    main()
