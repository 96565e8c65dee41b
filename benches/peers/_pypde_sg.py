"""The B-relax SG operator as a py-pde custom PDE class (shared by the two py-pde drivers).

Follows py-pde's documented pattern for custom PDEs: subclass `PDEBase`, implement
`evolution_rate` (numpy, used by py-pde's consistency checks) and `make_evolution_rate`
(returns a function that the numba backend compiles; here it calls an `@numba.njit` SG flux
kernel). py-pde stores a ScalarField on a CartesianGrid as data[ix, iy], so the edge rates are
built from U.T; ρ itself is evolved (dρ/dt = Gρ is the same equation as dp/dt = Gp, p = ρh²).
No-flux: the kernel has no boundary edges, so no ghost cells or py-pde BCs are involved.

Timing: py-pde's Controller profiles with `time.process_time` by default (CPU time of the process:
it undercounts on a loaded machine and overcounts with several threads). Its documented class
attribute `Controller._get_current_time` is set to `time.perf_counter` here, so the profiler's
"solver" (stepping) and "compilation" (numba, make_stepper) entries are wall times like every
other driver's solve_s.
"""
import time

import numba as nb
import numpy as np
from pde import CartesianGrid, PDEBase, ScalarField
from pde.solvers import Controller

import common

Controller._get_current_time = staticmethod(time.perf_counter)


@nb.njit(cache=False)
def sg_rhs(rho, axf, axb, ayf, ayb):
    """dρ/dt for SG edge rates: axf[i, j] = rate (i, j)→(i+1, j), axb the reverse; ay* along j."""
    nx, ny = rho.shape
    out = np.zeros_like(rho)
    for i in range(nx - 1):
        for j in range(ny):
            f = axf[i, j] * rho[i, j] - axb[i, j] * rho[i + 1, j]
            out[i, j] -= f
            out[i + 1, j] += f
    for i in range(nx):
        for j in range(ny - 1):
            f = ayf[i, j] * rho[i, j] - ayb[i, j] * rho[i, j + 1]
            out[i, j] -= f
            out[i, j + 1] += f
    return out


class SGRelaxPDE(PDEBase):
    """∂_t ρ = ∇·(D(∇ρ − ρ∇ln q)) discretised with Scharfetter–Gummel, no flux."""

    explicit_time_dependence = False

    def __init__(self, L: int):
        super().__init__()
        self.L = L
        U = common.potential(L).T  # indexed [ix, iy] like py-pde's data
        c = common.D * L * L
        dx = U[1:, :] - U[:-1, :]
        dy = U[:, 1:] - U[:, :-1]
        B = common.bernoulli
        self.axf, self.axb = c * B(dx), c * B(-dx)
        self.ayf, self.ayb = c * B(dy), c * B(-dy)

    @staticmethod
    def grid(L: int) -> CartesianGrid:
        return CartesianGrid([(0.0, 1.0), (0.0, 1.0)], [L, L])

    def initial_state(self) -> ScalarField:
        return ScalarField(self.grid(self.L), 1.0)

    def evolution_rate(self, state, t=0):
        out = state.copy(label="evolution rate")
        out.data[...] = sg_rhs(state.data, self.axf, self.axb, self.ayf, self.ayb)
        return out

    def make_evolution_rate(self, state, backend):
        axf, axb, ayf, ayb = self.axf, self.axb, self.ayf, self.ayb

        def pde_rhs(state_data, t=0):
            return sg_rhs(state_data, axf, axb, ayf, ayb)

        return pde_rhs

    def generator_xmajor(self):
        """The same G in py-pde's flat order (ix·L + iy): the sparse Jacobian of the RHS."""
        return common.sg_generator(self.L, common.potential(self.L).T)


def rho_yx(field) -> np.ndarray:
    """py-pde data[ix, iy] → ny × nx (row = y)."""
    return np.asarray(field.data).T
