"""Coefficients of the rational exponential in src/integrator/rational.rs (TABLE).

For each degree m = 1..12, finds a > 0 and c_1..c_m minimising

    eps_m = max_{x >= 0} | exp(-x) - sum_k c_k (1 + a x)^(-k) |   subject to  sum_k c_k = 1

(no c_0 term, so r(inf) = 0). With u = 1/(1 + a x) in (0, 1] this is a polynomial minimax
problem in u, solved as a linear programme on a grid refined at both ends; a is found by a
coarse scan of ln a followed by a bounded 1-D minimisation. eps_m is then re-measured on a
much denser grid (that is the value tabulated; the Rust unit test re-checks it).

Needs numpy and scipy (e.g. the peers venv: ~/.cache/cgkl-peers/venv/bin/python). Runtime:
about 7 minutes on the 2-core machine. Prints the Rust table rows.
"""

import numpy as np
from scipy.optimize import linprog, minimize_scalar


def grid(npts):
    u = np.concatenate([
        np.linspace(0, 1, npts + 1)[1:],
        1 - np.logspace(-10, 0, npts // 2)[:-1],
        np.logspace(-10, 0, npts // 2),
    ])
    return np.unique(np.clip(u, 1e-14, 1))


U = grid(8000)


def fit(a, m, u=U):
    """Minimax c for a fixed a: min t s.t. |V c - f| <= t, sum c = 1."""
    x = (1 / u - 1) / a
    f = np.exp(-x)
    V = np.vstack([u**k for k in range(1, m + 1)]).T
    ones = np.ones((len(u), 1))
    A = np.vstack([np.hstack([V, -ones]), np.hstack([-V, -ones])])
    b = np.concatenate([f, -f])
    Aeq = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    res = linprog(np.r_[np.zeros(m), 1], A_ub=A, b_ub=b, A_eq=Aeq, b_eq=[1],
                  bounds=[(None, None)] * m + [(0, None)], method="highs")
    return res.fun, res.x[:m]


def main():
    dense = grid(200000)
    for m in range(1, 13):
        las = np.linspace(np.log(0.02), np.log(5), 60)
        errs = [fit(np.exp(la), m)[0] for la in las]
        i = int(np.argmin(errs))
        lo, hi = las[max(i - 1, 0)], las[min(i + 1, len(las) - 1)]
        best = minimize_scalar(lambda la: fit(np.exp(la), m)[0], bounds=(lo, hi),
                               method="bounded", options=dict(xatol=1e-6))
        a = np.exp(best.x)
        _, c = fit(a, m)
        c[-1] = 1 - c[:-1].sum()
        x = (1 / dense - 1) / a
        approx = sum(c[k] * dense ** (k + 1) for k in range(m))
        eps = np.abs(np.exp(-x) - approx).max()
        print(f"({a:.17e}, {eps:.3e}, &[{', '.join(repr(float(v)) for v in c)}]),")


if __name__ == "__main__":
    main()
