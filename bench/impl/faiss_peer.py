"""FAISS peer of the keops-ts benchmark (bench/impl/faiss.ts): a child process speaking one JSON
line per request on stdin/stdout.

  {"cmd": "info"}                                  -> {"version", "blas", "threads"}
  {"cmd": "load", "x": path, "y": path, "M", "N", "D", "K", "out": path}   -> {"ok": true}
  {"cmd": "run"}                                   -> {"seconds": t}  (labels written to out, int64)

A run builds IndexFlatL2 on y and searches x for the K nearest (exact, as the faiss-node peer did);
`seconds` is measured here around that, so the pipe and file transfers are not timed.
"""
import ctypes, json, os, sys, time

import numpy as np
import faiss


def blas_name():
    """The BLAS library faiss loaded (from /proc/self/maps), with OpenBLAS's own config line."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if "blas" in os.path.basename(p).lower():
                    libs.add(os.path.realpath(p))
    except OSError:
        return "unknown"
    names = []
    for p in sorted(libs):
        name = p
        try:
            get = ctypes.CDLL(p).openblas_get_config
            get.restype = ctypes.c_char_p
            name = f"{get().decode()} ({os.path.dirname(p)})"
        except (OSError, AttributeError):
            pass
        if name not in names:
            names.append(name)
    return "; ".join(names) or "none found"


def main():
    state = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "info":
            reply = {"version": faiss.__version__, "blas": blas_name(), "threads": faiss.omp_get_max_threads()}
        elif cmd == "load":
            M, N, D = req["M"], req["N"], req["D"]
            state = {
                "x": np.fromfile(req["x"], dtype=np.float32).reshape(M, D),
                "y": np.fromfile(req["y"], dtype=np.float32).reshape(N, D),
                "D": D, "K": req["K"], "out": req["out"],
            }
            reply = {"ok": True}
        elif cmd == "run":
            t = time.perf_counter()
            index = faiss.IndexFlatL2(state["D"])
            index.add(state["y"])
            _, labels = index.search(state["x"], state["K"])
            seconds = time.perf_counter() - t
            labels.astype(np.int64).tofile(state["out"])
            reply = {"seconds": seconds}
        else:
            reply = {"error": f"unknown command {cmd}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
