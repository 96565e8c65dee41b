"""fplanck 0.2: its own API, `propagate` = scipy.sparse.linalg.expm_multiply (exact in time).

Set up as fplanck documents it (README / examples/harmonic_2d.py): `fokker_planck(temperature,
drag, extent, resolution, potential, boundary=reflecting)`, then `propagate(initial, time)`.
Units: temperature = 1/k_B (so β = 1), drag = 1/D (so diffusion = k_B T/drag = D), potential
U = −ln q (fplanck's grid is centred on 0, so U is evaluated at (x + ½, y + ½)), reflecting
boundaries = no flux, extent 1×1, resolution h = 1/L (cell centres at (i+½)h as in SPEC §1),
initial = uniform (fplanck normalises it to Σp = 1).

fplanck's discretisation is NOT Scharfetter–Gummel: its rate i→k is (D/h²)·exp(−(U_k − U_i)/2)
("square-root" rates; SG has (D/h²)·B(U_k − U_i) = (D/h²)·exp(−ΔU/2)·(ΔU/2)/sinh(ΔU/2)). Both have
the stationary state e^{−U} and are O(h²) accurate, but their time-exact solutions differ by
O(h²). `error` is therefore against fplanck's own time-exact solution (Chebyshev expansion of
exp(TG_sqrt) p0, common.reference(L, "sqrt")), i.e. it measures expm_multiply only; error_vs_sg
is the distance to the SG reference (the spatial-discretisation difference, shrinking like h²).

Compatibility shim: fplanck 0.2.2 calls `np.product`, removed in numpy 2.0; the driver aliases
np.product = np.prod before building the solver (no other change to fplanck).

solve_s = `propagate` (expm_multiply); the constructor (fplanck's matrix assembly, a Python loop
over cells) is outside solve_s but inside total. PEERS_CHECK=1 also checks that fplanck's
master_matrix equals common.sqrt_generator (permuted) to 1e-12.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

if not hasattr(np, "product"):  # numpy >= 2.0 removed it; fplanck 0.2.2 still calls it
    np.product = np.prod

import fplanck  # noqa: E402
from scipy import constants  # noqa: E402

import common  # noqa: E402


def main():
    L = common.parse_L()
    h = 1.0 / L

    def U(x, y):
        return -np.log(common.q_func(x + 0.5, y + 0.5))

    sim = fplanck.fokker_planck(temperature=1 / constants.k, drag=1 / common.D,
                                extent=[1.0, 1.0], resolution=h, potential=U,
                                boundary=fplanck.boundary.reflecting)
    assert tuple(sim.Ngrid) == (L, L), sim.Ngrid
    t0 = time.perf_counter()
    pf = sim.propagate(fplanck.uniform_pdf(), common.T)
    solve_s = time.perf_counter() - t0
    rho = np.asarray(pf).T * (L * L)  # fplanck indexes [ix, iy]
    extra = {}
    if os.environ.get("PEERS_CHECK") == "1":
        Gf = sim.master_matrix.tocsr()
        Gs = common.sqrt_generator(L, common.potential(L).T).tocsr()  # x-major like fplanck
        diff = abs(Gf - Gs).max() / abs(Gs).max()
        extra["generator_rel_diff"] = float(diff)
    extra["error_vs_sg"] = common.rel_l1(rho, common.reference(L, "sg"))
    common.summarize("fplanck expm_multiply", L, rho, solve_s, "exact", kind="sqrt",
                     notes="error vs its own (sqrt-rate) time-exact solution; error_vs_sg = "
                           "spatial difference to SG", **extra)


if __name__ == "__main__":
    main()
