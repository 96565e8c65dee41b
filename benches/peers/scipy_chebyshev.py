"""Plain numpy/scipy, one core: the Chebyshev expansion of exp(TG) p0 that `cgkl brelax` uses.

The same method and the same degree rule as cgkl's default (`--method chebyshev`, src/integrator/
chebyshev.rs and src/brelax.rs), written as an ordinary numpy/scipy script:

    exp(TG) = e^{−c} e^{cS} ≈ P_m(S) = Σ_{k≤m} a_k T_k(S) / Σ_{k≤m} a_k,
    S = I + G/Λ,  Λ = max_i |G_ii|,  c = TΛ,  a_0 = e^{−c} I_0(c),  a_k = 2 e^{−c} I_k(c)

(a_k from scipy.special.ive), with the three-term recurrence T_{k+1}(S)p = 2S T_k(S)p − T_{k−1}(S)p,
one CSR product per degree (the CSR matrix 2S = 2I + 2G/Λ is formed once, so each degree is one
`@` and two in-place vector updates). Degree: the smallest m whose uniform bound
ε_m = 2t_m/(1 − t_m), t_m = Σ_{k>m} a_k (+ 10⁻¹⁸ for the coefficients beyond the top, as cgkl),
is at most rtol/χ(p0) − r(c), χ(p0)² = Σ p0ᵢ²/πᵢ = mean(q)·mean(1/q), r(c) = 5·10⁻¹⁴ + 10⁻¹⁷c
(cgkl's round-off allowance), so that the a-priori L1 bound ε_m χ(p0) meets rtol = 1e-3
(env PEERS_CHEB_RTOL). Gives cgkl's m = 91 / 181 / 362 at L = 128 / 256 / 512.

G is assembled here directly as CSR (vectorised numpy: the five entries of every row, missing
neighbours masked out), rates (D/h²) B(U_k − U_i) with common.bernoulli, U = −ln q.

Timers (time.perf_counter): assembly_s = q, U, the rates, the CSR matrix, Λ and χ(p0);
products_s = the coefficients, 2S and the m products of the recurrence; solve_s = assembly_s +
products_s, like cgkl's wall_s (its assembly + products), which is what this row is compared with.
Threads: scipy's CSR product is single-threaded and numpy's vector updates do not use BLAS, so this
is a one-core run whatever the BLAS thread settings.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.special import ive  # noqa: E402

import common  # noqa: E402

RTOL = float(os.environ.get("PEERS_CHEB_RTOL", "1e-3"))
BEYOND_TOP = 1e-18  # cgkl: the coefficients beyond the top, counted in every tail


def roundoff(c: float) -> float:
    """cgkl's round-off allowance r(c) of the recurrence (chebyshev.rs `roundoff`)."""
    return 5e-14 + 1e-17 * c


def sg_csr(L: int):
    """SG generator as CSR, rows in the order (south, west, diagonal, east, north) per cell, and
    q at the cell centres (flat). Row k holds G[k, i] = rate i → k and G[k, k] = −Σ rate k → ·."""
    q = common.q_grid(L)
    U = -np.log(q)
    c = common.D * L * L
    dx = U[:, 1:] - U[:, :-1]  # U_right − U_left
    dy = U[1:, :] - U[:-1, :]  # U_up − U_down
    right = c * common.bernoulli(dx)  # (r, c) → (r, c+1), shape (L, L−1)
    left = c * common.bernoulli(-dx)  # (r, c+1) → (r, c)
    up = c * common.bernoulli(dy)  # (r, c) → (r+1, c), shape (L−1, L)
    down = c * common.bernoulli(-dy)  # (r+1, c) → (r, c)
    n = L * L
    val = np.zeros((L, L, 5))
    val[1:, :, 0] = up  # from the south neighbour (r−1, c) into (r, c)
    val[:, 1:, 1] = right  # from the west neighbour
    val[:, :-1, 3] = left  # from the east neighbour
    val[:-1, :, 4] = down  # from the north neighbour
    exit_rate = np.zeros((L, L))
    exit_rate[:, :-1] += right
    exit_rate[:, 1:] += left
    exit_rate[:-1, :] += up
    exit_rate[1:, :] += down
    val[:, :, 2] = -exit_rate
    k = np.arange(n).reshape(L, L)
    col = np.stack([k - L, k - 1, k, k + 1, k + L], axis=-1)
    present = np.ones((L, L, 5), dtype=bool)
    present[0, :, 0] = False
    present[:, 0, 1] = False
    present[:, -1, 3] = False
    present[-1, :, 4] = False
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(present.reshape(n, 5).sum(axis=1), out=indptr[1:])
    G = sp.csr_matrix((val[present], col[present].astype(np.int32), indptr), shape=(n, n))
    return G, q.ravel()


def coefficients(c: float, tol: float):
    """Renormalised a_k / Σ_{j≤m} a_j, k = 0…m, of the smallest degree m with ε_m ≤ tol, and ε_m
    (chebyshev.rs `ChebyshevExp::series`, with scipy.special.ive instead of Miller's recurrence)."""
    top = int(np.ceil(10.0 * np.sqrt(c) + 30.0))
    a = ive(np.arange(top + 1), c)
    a[1:] *= 2.0
    # t_m = 10⁻¹⁸ + Σ_{k>m} a_k, summed from the small end as cgkl does
    tails = BEYOND_TOP + np.concatenate([np.cumsum(a[:0:-1])[::-1], [0.0]])
    ok = 2.0 * tails / (1.0 - tails) <= tol
    # ε_m falls with m: the smallest m whose bound meets tol (at least 1 here; cgkl stops at 0)
    m = max(int(np.argmax(ok)), 1) if ok.any() else top
    eps = 2.0 * tails[m] / (1.0 - tails[m])
    kept = a[: m + 1]
    return kept / kept.sum(), eps


def main():
    L = common.parse_L()
    n = L * L
    p = common.p0(L)
    t0 = time.perf_counter()
    G, q = sg_csr(L)
    lam = float(np.abs(G.diagonal()).max())
    chi = float(np.sqrt(q.mean() * (1.0 / q).mean()))
    assembly_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    c = common.T * lam
    a, eps = coefficients(c, RTOL / chi - roundoff(c))
    m = len(a) - 1
    S2 = (G * (2.0 / lam) + sp.identity(n, format="csr") * 2.0).tocsr()  # 2S
    w_old = p  # T_0 p
    w = 0.5 * (S2 @ p)  # T_1 p = S p
    acc = a[0] * w_old + a[1] * w
    for ak in a[2:]:
        # T_{k+1} p = 2S T_k p − T_{k−1} p, written over T_{k−1} p
        w_new = S2 @ w
        w_new -= w_old
        acc += ak * w_new
        w_old, w = w, w_new
    products_s = time.perf_counter() - t1

    solve_s = assembly_s + products_s
    bound = (eps + roundoff(c)) * chi
    common.summarize(
        "scipy Chebyshev", L, acc * n, solve_s, m,
        notes=(f"degree m = {m} (CSR products), a-priori L1 bound {bound:.2e} at rtol {RTOL:g}, "
               f"c = TΛ = {c:.4g}, χ(p0) = {chi:.4f}; solve = assembly {assembly_s:.3f} s + "
               f"products {products_s:.3f} s"),
        assembly_s=round(assembly_s, 4), products_s=round(products_s, 4), degree=m,
        bound=bound)


if __name__ == "__main__":
    main()
