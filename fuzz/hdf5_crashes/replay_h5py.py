"""Replays cgkl's loader calls on every crash file with h5py, one process per file, and prints
how each process ended: does a given HDF5 release still crash on these inputs?

    python3 fuzz/hdf5_crashes/replay_h5py.py            # the h5py of this python3
    /usr/bin/python3 fuzz/hdf5_crashes/replay_h5py.py   # Debian's python3-h5py (libhdf5 1.10.8)

The calls follow the loaders (STACKS.txt): score_* files as score fields (open; `t` in f; list
the root; open and read t; the same for log_q), labels_* files as label files (open; f["labels"];
list the root; read labels); then the root attributes (checkpoint and shard readers). Each call's
exception is printed and the next call made, so a process ends by a signal only if the library
crashed.
"""
import glob
import os
import signal
import subprocess
import sys


def one(role, path):
    import h5py

    def step(name, fn):
        print("step", name, flush=True)
        try:
            r = fn()
            print("  ok", flush=True)
            return r
        except Exception as e:  # an ordinary error: the library refused the file
            print("  err", type(e).__name__, str(e)[:120], flush=True)
            return None

    f = step("open", lambda: h5py.File(path, "r"))
    if f is None:
        return
    members = lambda: [(n, type(f.get(n)).__name__) for n in f.keys()]
    read = lambda name: f[name][()]
    if role == "score":
        for name in ["t", "log_q"]:
            step(f"exists {name}", lambda: name in f)
            step("list root", members)
            step(f"read {name}", lambda: read(name))
    else:
        step("open labels", lambda: f["labels"])
        step("list root", members)
        step("read labels", lambda: read("labels"))
    step("root attributes", lambda: dict(f.attrs))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3])
        return
    import h5py

    print(f"h5py {h5py.version.version}, HDF5 {h5py.version.hdf5_version}")
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "*.h5"))):
        name = os.path.basename(path)
        role = "labels" if name.startswith("labels") else "score"
        r = subprocess.run(
            [sys.executable, __file__, "--one", role, path],
            capture_output=True,
            text=True,
            timeout=120,
        )
        rc = r.returncode
        end = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit {rc}"
        steps = [l for l in r.stdout.splitlines() if l.startswith("step")]
        errs = sum(1 for l in r.stdout.splitlines() if l.strip().startswith("err"))
        last = steps[-1][5:] if steps else "-"
        print(f"{name}\t{end}\tlast call: {last}\tordinary errors: {errs}")


if __name__ == "__main__":
    main()
