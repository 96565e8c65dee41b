"""cgkl: runs `cgkl brelax --n L --out FILE` and scores its ρ(T) against the same reference.

Binary: $CGKL_BIN, else <repo>/target/release/cgkl (build with `cargo build --release`). Extra
arguments for the subcommand (e.g. "--method exact" or "--rtol 1e-4", whatever `cgkl brelax
--help` lists) come from $CGKL_BRELAX_ARGS. The output file goes to a temporary folder outside the
repository and is deleted afterwards.

Contract (issue 9): the HDF5 file has dataset `rho` (ny × nx float64) and attributes L, T, D,
wall_s, method; cgkl prints its wall time, mass error and min ρ. solve_s = the file's wall_s
(cgkl's own timer: assembly + time stepping); total_s = wall time of the cgkl process alone (not
of this Python wrapper, whose imports are not cgkl's cost); error, mass_err and min_rho are
recomputed here from `rho`.

If the binary or its `brelax` subcommand is missing, prints {"status": "skipped", ...} and exits 0.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402


def skip(L, why):
    print(json.dumps({"solver": "cgkl", "L": L, "status": "skipped", "notes": why}), flush=True)
    sys.exit(0)


def main():
    L = common.parse_L()
    binary = Path(os.environ.get("CGKL_BIN") or HERE.parent.parent / "target" / "release" / "cgkl")
    extra = shlex.split(os.environ.get("CGKL_BRELAX_ARGS", ""))
    if not binary.is_file():
        skip(L, f"no binary at {binary} (cargo build --release, or set CGKL_BIN)")
    probe = subprocess.run([str(binary), "brelax", "--help"], capture_output=True, text=True)
    if probe.returncode != 0 or "--out" not in probe.stdout:
        skip(L, f"{binary} has no `brelax` subcommand yet")
    import h5py  # after the skip checks: only needed when cgkl ran

    with tempfile.TemporaryDirectory(prefix="cgkl-peers-") as tmp:
        out = Path(tmp) / f"brelax_L{L}.h5"
        cmd = [str(binary), "brelax", "--n", str(L), "--out", str(out), *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        total_s = time.perf_counter() - t0
        if proc.returncode != 0:
            msg = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            print(json.dumps({"solver": "cgkl", "L": L, "status": f"failed (exit {proc.returncode})",
                              "notes": msg[0]}), flush=True)
            sys.exit(1)
        with h5py.File(out, "r") as f:
            rho = f["rho"][...]
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    if rho.shape != (L, L):
        raise SystemExit(f"cgkl wrote rho of shape {rho.shape}, expected ({L}, {L})")
    for key, want in (("L", L), ("T", common.T), ("D", common.D)):
        if key in attrs and abs(float(attrs[key]) - want) > 1e-12 * max(1.0, abs(want)):
            raise SystemExit(f"cgkl attribute {key} = {attrs[key]}, expected {want}")
    method = str(attrs.get("method", "?"))
    label = "cgkl" + (" " + " ".join(extra) if extra else "")
    solve_s = float(attrs["wall_s"]) if "wall_s" in attrs else float("nan")
    printed = " ".join(proc.stdout.split())[:160]
    m = re.search(r"(?:N|m) = (\d+)", method)
    steps = int(attrs["steps"]) if "steps" in attrs else (int(m.group(1)) if m else method.split()[0])
    common.summarize(label, L, rho, solve_s, steps, notes=method,
                     total_s=round(total_s, 4), cgkl_stdout=printed)


if __name__ == "__main__":
    main()
