"""Shared pieces of the B-relax peer benchmark (SPEC §8, issue 9 item 6).

B-relax: ∂_t ρ = ∇·(D(∇ρ − ρ∇ln q)), D = 0.02, T = 0.5, ρ(0) = 1, no flux through the boundary
of the unit square, on an L×L grid of cells of side h = 1/L, arrays ny × nx (row = y).

Discretisation (Scharfetter–Gummel): U = −ln q at the cell centres, rate from cell i to its
neighbour k = (D/h²) B(U_k − U_i), B(z) = z/(eᶻ − 1); master equation dp/dt = G p on the masses
p = ρh², G[k, i] = rate i→k, G[i, i] = −Σ_k rate i→k.

This module holds the grid, q, the generator, the time-exact reference (a Chebyshev expansion of
exp(TG) p0, cached as .npy outside the repository), the error/mass/min helpers, the JSON line every
driver prints, and the runner that times each driver as a child process and prints the table.

Command line (run with the venv's python):
    python common.py ref L [L ...]          compute (and cache) the references
    python common.py check [L]              Chebyshev reference vs scipy expm_multiply
    python common.py table --sizes "128 256" [--drivers a.py,b.py] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

D = 0.02
T = 0.5
HERE = Path(__file__).resolve().parent

# Drivers in table order (the rows, pyamg BDF2 after the scipy rows, then the numpy
# version of cgkl's Chebyshev method just before cgkl).
DRIVERS = [
    "scipy_bdf2.py",
    "scipy_euler.py",
    "pyamg_bdf2.py",
    "pypde_explicit.py",
    "pypde_bdf.py",
    "fplanck_expm.py",
    "fipy_euler.py",
    "scipy_chebyshev.py",
    "cgkl.py",
]


# --------------------------------------------------------------------------------------------
# Grid, q, U
# --------------------------------------------------------------------------------------------

def q_func(x, y):
    """The B-relax target density q(x, y) (unnormalised)."""
    r1 = (x - 0.3) ** 2 + (y - 0.3) ** 2
    r2 = (x - 0.7) ** 2 + (y - 0.65) ** 2
    return 0.05 + 0.6 * np.exp(-r1 / (2 * 0.08**2)) + 0.35 * np.exp(-r2 / (2 * 0.12**2))


def centres(L: int):
    """Cell-centre coordinates (X, Y), each ny × nx (row = y): X[iy, ix] = (ix+½)h."""
    c = (np.arange(L) + 0.5) / L
    return np.meshgrid(c, c, indexing="xy")


def q_grid(L: int) -> np.ndarray:
    """q at the cell centres, ny × nx."""
    X, Y = centres(L)
    return q_func(X, Y)


def potential(L: int) -> np.ndarray:
    """U = −ln q at the cell centres, ny × nx."""
    return -np.log(q_grid(L))


def p0(L: int) -> np.ndarray:
    """Initial masses for ρ(0) = 1: p = h² in every cell (flat, row-major)."""
    return np.full(L * L, 1.0 / (L * L))


# --------------------------------------------------------------------------------------------
# Bernoulli function and generators
# --------------------------------------------------------------------------------------------

def bernoulli(z) -> np.ndarray:
    """B(z) = z/(eᶻ − 1), B(0) = 1, evaluated stably (Taylor series for |z| < 1e-3)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    small = np.abs(z) < 1e-3
    zs = z[small]
    out[small] = 1.0 - zs / 2.0 + zs * zs / 12.0 - zs**4 / 720.0
    zl = z[~small]
    with np.errstate(over="ignore"):
        # z/expm1(z): for z → +∞ expm1 overflows to inf and the ratio is 0 (correct limit).
        out[~small] = zl / np.expm1(zl)
    return out


def _assemble(L: int, rx_fwd, rx_bwd, ry_fwd, ry_bwd):
    """CSC generator from edge rates on an L×L grid (arrays indexed [row, col], flat = row*L+col).

    rx_fwd[r, c] = rate (r, c) → (r, c+1), rx_bwd[r, c] = rate (r, c+1) → (r, c), both (L, L−1);
    ry_fwd[r, c] = rate (r, c) → (r+1, c), ry_bwd[r, c] = rate (r+1, c) → (r, c), both (L−1, L).
    """
    import scipy.sparse as sp

    n = L * L
    idx = np.arange(n).reshape(L, L)
    a, b = idx[:, :-1].ravel(), idx[:, 1:].ravel()  # horizontal pairs a → b = a+1
    c, d = idx[:-1, :].ravel(), idx[1:, :].ravel()  # vertical pairs c → d = c+L
    rows = np.concatenate([b, a, d, c])
    cols = np.concatenate([a, b, c, d])
    vals = np.concatenate([rx_fwd.ravel(), rx_bwd.ravel(), ry_fwd.ravel(), ry_bwd.ravel()])
    exit_rate = np.bincount(cols, weights=vals, minlength=n)
    rows = np.concatenate([rows, np.arange(n)])
    cols = np.concatenate([cols, np.arange(n)])
    vals = np.concatenate([vals, -exit_rate])
    return sp.csc_matrix((vals, (rows, cols)), shape=(n, n))


def sg_generator(L: int, U: np.ndarray | None = None, diff: float = D):
    """SG generator G (scipy.sparse CSC, n × n, n = L²) for U given as ny × nx (default −ln q).

    Passing U.T gives the generator in x-major order (flat index ix·L + iy), as py-pde uses.
    """
    if U is None:
        U = potential(L)
    c = diff * L * L  # D/h²
    dx = U[:, 1:] - U[:, :-1]  # U_right − U_left
    dy = U[1:, :] - U[:-1, :]
    return _assemble(L, c * bernoulli(dx), c * bernoulli(-dx), c * bernoulli(dy), c * bernoulli(-dy))


def sqrt_generator(L: int, U: np.ndarray | None = None, diff: float = D):
    """fplanck's 'square-root' generator: rate i→k = (D/h²) exp(−(U_k − U_i)/2), same layout.

    Same stationary state e^{−U} as SG but a different (also O(h²)) discretisation, so its
    time-exact solution differs from the SG reference by O(h²)."""
    if U is None:
        U = potential(L)
    c = diff * L * L
    dx = U[:, 1:] - U[:, :-1]
    dy = U[1:, :] - U[:-1, :]
    return _assemble(L, c * np.exp(-dx / 2), c * np.exp(dx / 2), c * np.exp(-dy / 2), c * np.exp(dy / 2))


# --------------------------------------------------------------------------------------------
# Time-exact reference: Chebyshev expansion of exp(tG) v
# --------------------------------------------------------------------------------------------

def expm_cheb(G, v: np.ndarray, t: float, tol: float = 1e-12, return_terms: bool = False):
    """exp(tG) v for a generator G (columns sum to 0, off-diagonals ≥ 0, detailed balance).

    Gershgorin on the columns puts the spectrum of G in [−2b, 0], b = max_i(−G_ii); G is similar
    to a symmetric matrix (detailed balance), so the spectrum is real. With X = G/b + I
    (spectrum in [−1, 1]) and z = tb:
        exp(tG) = e^{−z} e^{zX} = ive(0, z) T_0(X) + 2 Σ_{k≥1} ive(k, z) T_k(X),
    (ive = exponentially scaled modified Bessel function), summed with the three-term recurrence.
    The series is cut where the coefficient tail is below tol·1e-3 (the T_k(X) v are bounded in
    the q-weighted norm; the check against expm_multiply confirms ~1e-13 in practice).
    """
    from scipy.special import ive

    G = G.tocsr()
    b = float(-G.diagonal().min())
    z = t * b
    kmax = int(z + 40.0 * np.sqrt(z) + 100)
    coef = ive(np.arange(kmax + 1), z)
    coef[1:] *= 2.0
    tail = np.cumsum(coef[::-1])[::-1]  # tail[k] = Σ_{j≥k} coef[j]
    below = np.nonzero(tail < tol * 1e-3)[0]
    K = int(below[0]) if below.size else kmax
    v = np.asarray(v, dtype=float)
    w_prev = v.copy()
    acc = coef[0] * w_prev
    if K > 1:
        w = G @ v / b + v
        acc += coef[1] * w
        for k in range(2, K):
            w_next = 2.0 * (G @ w / b + w) - w_prev
            acc += coef[k] * w_next
            w_prev, w = w, w_next
    return (acc, K) if return_terms else acc


def cache_dir() -> Path:
    """Cache folder for references (outside the repository)."""
    d = os.environ.get("CGKL_PEERS_CACHE")
    path = Path(d) if d else Path.home() / ".cache" / "cgkl-peers"
    path = path / "ref"
    path.mkdir(parents=True, exist_ok=True)
    return path


def reference(L: int, kind: str = "sg", cache: bool = True, tol: float = 1e-12) -> np.ndarray:
    """Time-exact ρ(T) (ny × nx) of the `kind` discretisation ('sg' or 'sqrt' = fplanck's).

    Cached as <cache>/ref/brelax_<kind>_L<L>.npy when cache is true."""
    fname = cache_dir() / f"brelax_{kind}_L{L}.npy" if cache else None
    if fname is not None and fname.exists():
        return np.load(fname)
    gen = {"sg": sg_generator, "sqrt": sqrt_generator}[kind]
    p = expm_cheb(gen(L), p0(L), T, tol=tol)
    rho = (p * L * L).reshape(L, L)
    if fname is not None:
        tmp = fname.with_suffix(".tmp.npy")
        np.save(tmp, rho)
        os.replace(tmp, fname)
    return rho


# --------------------------------------------------------------------------------------------
# Error helpers and the driver's JSON line
# --------------------------------------------------------------------------------------------

def rel_l1(rho: np.ndarray, ref: np.ndarray) -> float:
    """‖ρ − ρ_ref‖₁ / ‖ρ_ref‖₁."""
    return float(np.abs(rho - ref).sum() / np.abs(ref).sum())


def mass_err(rho: np.ndarray, L: int) -> float:
    """|Σp − 1| with p = ρh²."""
    return float(abs(rho.sum() / (L * L) - 1.0))


def summarize(solver: str, L: int, rho: np.ndarray, solve_s: float, steps, notes: str = "",
              kind: str = "sg", **extra) -> dict:
    """Build and print the driver's JSON line. rho must be ny × nx (row = y)."""
    rho = np.asarray(rho, dtype=float).reshape(L, L)
    out = {
        "solver": solver,
        "L": L,
        "solve_s": round(float(solve_s), 4),
        "error": rel_l1(rho, reference(L, kind)),
        "mass_err": mass_err(rho, L),
        "min_rho": float(rho.min()),
        "steps": steps,
        "notes": notes,
    }
    out.update(extra)
    print(json.dumps(out), flush=True)
    return out


def parse_L(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("L", type=int, help="grid side (L×L cells)")
    return ap.parse_args(argv).L


# --------------------------------------------------------------------------------------------
# Runner: times each driver as a child process, prints the Markdown table
# --------------------------------------------------------------------------------------------

def run_driver(script: str, L: int, timeout: float | None = None, env: dict | None = None) -> dict:
    """Run `python script L` as a child; total_s = wall time of the whole child process."""
    cmd = [sys.executable, str(HERE / script), str(L)]
    child_env = dict(os.environ, **(env or {}))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE,
                              env=child_env)
    except subprocess.TimeoutExpired:
        return {"solver": script, "L": L, "status": "timeout", "total_s": time.perf_counter() - t0}
    total = time.perf_counter() - t0
    rec = None
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                pass
    if rec is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"solver": script, "L": L, "status": f"failed (exit {proc.returncode})",
                "total_s": total, "notes": " | ".join(tail)}
    rec.setdefault("status", "ok")
    # A driver that wraps another process (cgkl.py) reports that process's own wall time.
    rec["total_s"] = rec.get("total_s", total)
    rec["child_s"] = total
    return rec


def median_of(runs: list[dict]) -> dict:
    """The first run's record with solve_s and total_s replaced by the medians over all runs
    (the lists are kept as solve_runs / total_runs)."""
    rec = dict(runs[0])
    for key in ("solve_s", "total_s"):
        xs = [float(r[key]) for r in runs]
        rec[key.replace("_s", "_runs")] = xs
        rec[key] = float(np.median(xs))
    rec["runs"] = len(runs)
    return rec


def fmt_s(x) -> str:
    if x is None:
        return "–"
    return f"{x:.4f}" if x < 0.1 else f"{x:.2f}" if x < 10 else f"{x:.1f}"


def fmt_e(x) -> str:
    return "–" if x is None else f"{x:.1e}"


def table(records: list[dict]) -> str:
    lines = ["| solver | L | solve s | total s | error | mass err | min ρ | steps | notes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        if r.get("status") != "ok":
            lines.append(f"| {r['solver']} | {r['L']} | – | – | – | – | – | – | "
                         f"{r.get('status')}: {r.get('notes', '')} |")
            continue
        notes = r.get("notes", "")
        if "error_vs_sg" in r:
            notes = f"error vs SG reference {r['error_vs_sg']:.1e}; " + notes
        if "compile_s" in r:
            notes = f"numba compile {r['compile_s']:.2f} s (in total); " + notes
        if r.get("runs", 1) > 1:
            notes = f"median of {r['runs']} runs; " + notes
        lines.append(
            f"| {r['solver']} | {r['L']} | {fmt_s(r['solve_s'])} | {fmt_s(r['total_s'])} | "
            f"{fmt_e(r['error'])} | {fmt_e(r['mass_err'])} | {r['min_rho']:.3g} | {r['steps']} | "
            f"{notes} |")
    return "\n".join(lines)


def main_table(args) -> None:
    sizes = [int(s) for s in args.sizes.split()]
    drivers = args.drivers.split(",") if args.drivers else DRIVERS
    # References first (cached), so that no driver's total includes computing one.
    for L in sizes:
        for kind in ("sg", "sqrt") if "fplanck_expm.py" in drivers else ("sg",):
            t0 = time.perf_counter()
            reference(L, kind)
            dt = time.perf_counter() - t0
            if dt > 0.5:
                print(f"reference {kind} L={L}: {dt:.1f} s (now cached)", file=sys.stderr, flush=True)
    records = []
    for L in sizes:
        for d in drivers:
            # cgkl.py runs once per variant (extra `cgkl brelax` arguments, ';'-separated).
            variants = args.cgkl_variants.split(";") if d == "cgkl.py" else [None]
            for v in variants:
                env = {"CGKL_BRELAX_ARGS": v.strip()} if v is not None else None
                tag = f" [{v.strip()}]" if v and v.strip() else ""
                print(f"running {d}{tag} L={L} ...", file=sys.stderr, flush=True)
                # the same driver again, up to --repeat runs while they stay within
                # --repeat-budget seconds in all; the row reports the medians
                runs, spent = [], 0.0
                while len(runs) < max(1, args.repeat) and (not runs or spent < args.repeat_budget):
                    r = run_driver(d, L, timeout=args.timeout, env=env)
                    if r.get("status") != "ok":
                        break
                    runs.append(r)
                    spent += r["child_s"]
                if r.get("status") == "skipped":
                    print(f"  skipped: {r.get('notes', '')}", file=sys.stderr, flush=True)
                    break
                if runs:
                    failed = r if r.get("status") != "ok" else None
                    r = median_of(runs)
                    if failed:  # a repeat failed after good runs: say so in the row
                        r["notes"] = f"a repeat {failed.get('status')}; " + r.get("notes", "")
                print(f"  {json.dumps(r, ensure_ascii=False)}", file=sys.stderr, flush=True)
                records.append(r)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(records, indent=1))
    # Group rows by solver (as in the table), sizes ascending.
    order = {}
    for r in records:
        order.setdefault(r["solver"], len(order))
    records.sort(key=lambda r: (order[r["solver"]], r["L"]))
    print(table(records))


def main_check(args) -> None:
    """Chebyshev vs scipy.sparse.linalg.expm_multiply, both discretisations."""
    from scipy.sparse.linalg import expm_multiply

    L = args.L
    for kind, gen in (("sg", sg_generator), ("sqrt", sqrt_generator)):
        G = gen(L)
        v = p0(L)
        t0 = time.perf_counter()
        a, K = expm_cheb(G, v, T, return_terms=True)
        ta = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = expm_multiply(G * T, v)
        tb = time.perf_counter() - t0
        print(json.dumps({"L": L, "kind": kind, "cheb_terms": K, "cheb_s": round(ta, 3),
                          "expm_multiply_s": round(tb, 3), "rel_l1_diff": rel_l1(a, b),
                          "mass_err_cheb": float(abs(a.sum() - 1)),
                          "min_p_cheb": float(a.min())}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("ref", help="compute and cache references")
    r.add_argument("L", type=int, nargs="+")
    r.add_argument("--kind", default="sg", choices=["sg", "sqrt"])
    c = sub.add_parser("check", help="Chebyshev reference vs expm_multiply")
    c.add_argument("L", type=int, nargs="?", default=128)
    t = sub.add_parser("table", help="run the drivers and print the Markdown table")
    t.add_argument("--sizes", default="128 256 512")
    t.add_argument("--drivers", default="", help="comma-separated driver scripts (default: all)")
    t.add_argument("--timeout", type=float, default=None, help="per-driver timeout, s")
    t.add_argument("--json-out", default="", help="also write all records as JSON here")
    t.add_argument("--repeat", type=int, default=int(os.environ.get("PEERS_REPEAT", "5")),
                   help="runs per row, median reported (default 5, env PEERS_REPEAT)")
    t.add_argument("--repeat-budget", type=float, default=20.0,
                   help="no further run of a row once its runs took this many seconds (default 20)")
    t.add_argument("--cgkl-variants", default=os.environ.get("PEERS_CGKL_VARIANTS", ";--method exact"),
                   help="';'-separated extra `cgkl brelax` argument sets, one cgkl row each "
                        "(empty = defaults; default: ';--method exact')")
    args = ap.parse_args()
    if args.cmd == "ref":
        for L in args.L:
            t0 = time.perf_counter()
            reference(L, args.kind)
            print(f"{args.kind} L={L}: {time.perf_counter() - t0:.2f} s -> {cache_dir()}")
    elif args.cmd == "check":
        main_check(args)
    else:
        main_table(args)


if __name__ == "__main__":
    main()
