#!/usr/bin/env bash
# B-relax peer benchmark: installs the peers into a scratch venv OUTSIDE the repository, runs every
# driver for each L, one run at a time, and prints a Markdown table (see README.md).
#
# Environment:
#   CGKL_PEERS_VENV      venv folder        (default ~/.cache/cgkl-peers/venv)
#   CGKL_PEERS_CACHE     cache folder       (default ~/.cache/cgkl-peers: references, results)
#   PEERS_PYTHON         python that creates the venv (default python3; 3.10–3.13)
#   PEERS_L              sizes              (default "128 256 512")
#   PEERS_DRIVERS        comma-separated driver scripts (default: all, in table order)
#   PEERS_CGKL_VARIANTS  ';'-separated extra `cgkl brelax` args, one cgkl row each
#                        (default ";--method exact": the default (Chebyshev) run and the exact one)
#   PEERS_TIMEOUT        per-run timeout in seconds (default none)
#   PEERS_REPEAT         runs per row, the median is reported (default 5; a row stops repeating
#                        once its runs took 20 s, so the slow peers run once or twice)
#   PEERS_THREADS        if set, caps BLAS/OpenMP/numba threads of every child to this number
#   CGKL_BIN             cgkl binary        (default <repo>/target/release/cgkl; skipped if absent)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${CGKL_PEERS_CACHE:-$HOME/.cache/cgkl-peers}"
VENV="${CGKL_PEERS_VENV:-$CACHE/venv}"
PYTHON="${PEERS_PYTHON:-python3}"
SIZES="${PEERS_L:-128 256 512}"
export CGKL_PEERS_CACHE="$CACHE"

mkdir -p "$CACHE"
case "$(cd "$(dirname "$VENV")" 2>/dev/null && pwd || dirname "$VENV")/" in
  "$REPO"/*) echo "error: venv $VENV is inside the repository $REPO; set CGKL_PEERS_VENV elsewhere" >&2; exit 2;;
esac
case "$(cd "$CACHE" && pwd)/" in
  "$REPO"/*) echo "error: cache $CACHE is inside the repository $REPO; set CGKL_PEERS_CACHE elsewhere" >&2; exit 2;;
esac

# 1. venv + pinned packages (reinstalled only when requirements.txt changes)
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating venv $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.cgkl-peers-requirements"
if ! cmp -s "$HERE/requirements.txt" "$STAMP"; then
  echo "installing pinned packages into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet -r "$HERE/requirements.txt" >&2
  cp "$HERE/requirements.txt" "$STAMP"
fi

if [ -n "${PEERS_THREADS:-}" ]; then
  export OMP_NUM_THREADS="$PEERS_THREADS" OPENBLAS_NUM_THREADS="$PEERS_THREADS" \
         MKL_NUM_THREADS="$PEERS_THREADS" NUMBA_NUM_THREADS="$PEERS_THREADS"
fi

# 2. versions, machine
"$VENV/bin/python" - <<'PY' >&2
import importlib.metadata as m, platform, os
pk = ["numpy", "scipy", "h5py", "numba", "py-pde", "fplanck", "fipy", "pyamg"]
print("python", platform.python_version(), "|", ", ".join(f"{p} {m.version(p)}" for p in pk))
load = os.getloadavg()
print("cores", os.cpu_count(), "| load", " ".join(f"{x:.2f}" for x in load),
      "| threads", os.environ.get("PEERS_THREADS") or "library defaults")
if load[0] > 0.5 * (os.cpu_count() or 1):
    print("warning: the machine is busy; timings will be inflated (multithreaded BLAS suffers most:"
          " PEERS_THREADS=1 limits that)")
PY

# 3. references (cached), then every driver, one run at a time
STAMPTIME="$(date +%Y%m%d-%H%M%S)"
ARGS=(table --sizes "$SIZES" --json-out "$CACHE/results-$STAMPTIME.json")
[ -n "${PEERS_DRIVERS:-}" ] && ARGS+=(--drivers "$PEERS_DRIVERS")
[ -n "${PEERS_TIMEOUT:-}" ] && ARGS+=(--timeout "$PEERS_TIMEOUT")
[ -n "${PEERS_CGKL_VARIANTS+x}" ] && ARGS+=(--cgkl-variants "$PEERS_CGKL_VARIANTS")
"$VENV/bin/python" "$HERE/common.py" "${ARGS[@]}" | tee "$CACHE/table-$STAMPTIME.md"
echo "records: $CACHE/results-$STAMPTIME.json, table: $CACHE/table-$STAMPTIME.md" >&2
