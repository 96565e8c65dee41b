"""FiPy 4.0: TransientTerm == DiffusionTerm(D) − ExponentialConvectionTerm(u), implicit Euler
with N = 80 fixed steps, BiCGStab (scipy solver suite, FiPy's default tolerance and criterion).

FiPy's equation reads ∂ρ/∂t + ∇·(uρ) = ∇·(D∇ρ); B-relax has u = D∇ln q = −D∇U. The coefficient is
u = D·(ln q).faceGrad, whose normal component on an interior face is D(ln q_k − ln q_i)/h; with the
diffusion coefficient D in the same equation FiPy's exponential scheme gives Peclet number
P = −(U_k − U_i) and the face flux of Scharfetter–Gummel exactly (FiPy clamps |P| < 1e-3 to 1e-3,
which changes nothing measurable here). Exterior faces carry no constraint, so FiPy imposes no
flux there for both terms. Grid2D(dx = dy = h, nx = ny = L): cell centres ((i+½)h, (j+½)h), cell id
= ix + iy·nx, the layout of SPEC §1. eq.solve(var, dt, solver) every step (FiPy rebuilds the
matrix each step). solve_s = the 80 eq.solve calls; building the mesh/terms is outside it.
FIPY_SOLVERS defaults to scipy here (set it before running to pick another installed suite);
PEERS_FIPY_TOL overrides the BiCGStab tolerance (FiPy's default 1e-5 adds ~2 % to the implicit
Euler error at L = 256: 1.00e-3 vs 9.83e-4 with exact solves).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("FIPY_SOLVERS", "scipy")
import numpy as np  # noqa: E402
import fipy  # noqa: E402
from fipy import (CellVariable, DiffusionTerm, ExponentialConvectionTerm, Grid2D,  # noqa: E402
                  TransientTerm)

import common  # noqa: E402

N = int(os.environ.get("PEERS_FIPY_N", "80"))
TOL = os.environ.get("PEERS_FIPY_TOL", "default")  # FiPy's default: 1e-5


def main():
    L = common.parse_L()
    h = 1.0 / L
    mesh = Grid2D(dx=h, dy=h, nx=L, ny=L)
    x, y = mesh.cellCenters
    lnq = CellVariable(mesh=mesh, value=np.log(common.q_func(np.asarray(x), np.asarray(y))))
    rho = CellVariable(mesh=mesh, value=1.0, name="rho")
    u = common.D * lnq.faceGrad
    eq = TransientTerm() == DiffusionTerm(coeff=common.D) - ExponentialConvectionTerm(coeff=u)
    solver = fipy.LinearBicgstabSolver(tolerance=TOL if TOL == "default" else float(TOL))
    dt = common.T / N
    t0 = time.perf_counter()
    for _ in range(N):
        eq.solve(var=rho, dt=dt, solver=solver)
    solve_s = time.perf_counter() - t0
    r = np.asarray(rho.value).reshape(L, L)  # cell id = ix + iy*nx → ny × nx
    common.summarize("FiPy implicit Euler", L, r, solve_s, N,
                     notes=f"ExponentialConvectionTerm + DiffusionTerm, {type(solver).__module__.split('.')[2]} "
                           f"BiCGStab tol {solver.tolerance:g} ({solver.criterion}), N = {N}")


if __name__ == "__main__":
    main()
