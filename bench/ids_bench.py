#!/usr/bin/env python3
"""Download benchmark: icat-ids vs curl vs python-icat against the simulator's IDS.

Usage (from the workspace root): python3 bench/ids_bench.py [repetitions]
Builds the `ids_bench` binary of icat-bench in release mode and a venv with python-icat 1.7.0 (PyPI) under
target/, starts the IDS with a 1 GiB file and a 100-file 1 GiB dataset, then times each client
in its own process (wall time and peak resident memory via wait4), median of the repetitions.
Prints a Markdown table of throughput, peak memory and ratios.
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
VENV = os.path.join(ROOT, "target", "bench-venv")
BIN = os.path.join(ROOT, "target", "release", "ids_bench")
GIB = 1 << 30

PY_SINGLE = """
import shutil, sys
from icat.ids import IDSClient, DataSelection
url, session, what, ident, out = sys.argv[1:6]
c = IDSClient(url, sessionId=session)
sel = DataSelection({"datafileIds" if what == "single" else "datasetIds": [int(ident)]})
with c.getData(sel) as r, open(out, "wb") as f:
    shutil.copyfileobj(r, f, 8192)
"""


def run(cmd):
    """Run cmd, return (seconds, peak RSS in MiB)."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}")
    return dt, ru.ru_maxrss / 1024


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    subprocess.check_call(["cargo", "build", "--quiet", "--release", "-p", "icat-bench",
                           "--bin", "ids_bench"], cwd=ROOT)
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([os.path.join(VENV, "bin", "pip"), "install", "--quiet",
                           "--disable-pip-version-check", "python-icat==1.7.0", "suds"])
    work = tempfile.mkdtemp(prefix="ids-bench-", dir=os.path.join(ROOT, "target"))
    manifest = os.path.join(work, "manifest.json")
    pyscript = os.path.join(work, "pyget.py")
    with open(pyscript, "w") as f:
        f.write(PY_SINGLE)
    server = subprocess.Popen([BIN, "serve", work, manifest], stdin=subprocess.PIPE)
    try:
        while not os.path.exists(manifest):
            if server.poll() is not None:
                raise SystemExit("server exited early")
            time.sleep(0.2)
        time.sleep(0.2)
        m = json.load(open(manifest))
        url, session = m["url"], m["session"]
        one, ds = m["single"]["id"], m["dataset"]
        out = os.path.join(work, "out")
        py = os.path.join(VENV, "bin", "python")
        cases = {
            ("single", "icat-ids"): [BIN, "single", manifest, out],
            ("single", "icat-ids (no fsync)"): [BIN, "single-nosync", manifest, out],
            ("single", "curl"): ["curl", "-s", "-f", "-o", out,
                                 f"{url}/getData?sessionId={session}&datafileIds={one}"],
            ("single", "python-icat"): [py, pyscript, url, session, "single", str(one), out],
            ("dataset", "icat-ids"): [BIN, "many", manifest, out],
            ("dataset", "icat-ids (no fsync)"): [BIN, "many-nosync", manifest, out],
            ("dataset", "curl"): ["curl", "-s", "-f", "-o", out,
                                  f"{url}/getData?sessionId={session}&datasetIds={ds}"],
            ("dataset", "python-icat"): [py, pyscript, url, session, "dataset", str(ds), out],
        }
        results = {k: [] for k in cases}
        for _ in range(reps):
            for k, cmd in cases.items():
                shutil.rmtree(out, ignore_errors=True)
                if os.path.exists(out):
                    os.remove(out)
                results[k].append(run(cmd))
        shutil.rmtree(out, ignore_errors=True)
        if os.path.exists(out):
            os.remove(out)
    finally:
        server.stdin.close()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)

    print(f"| download | client | median s | MiB/s | peak RSS MiB | vs curl | vs python-icat |")
    print(f"|---|---|---|---|---|---|---|")
    for what in ("single", "dataset"):
        clients = ("icat-ids", "icat-ids (no fsync)", "curl", "python-icat")
        med = {c: statistics.median(t for t, _ in results[(what, c)]) for c in clients}
        for c in clients:
            rss = max(r for _, r in results[(what, c)])
            print(f"| {what} | {c} | {med[c]:.2f} | {GIB / (1 << 20) / med[c]:.0f} | {rss:.0f} | "
                  f"{med['curl'] / med[c]:.2f}x | {med['python-icat'] / med[c]:.2f}x |")


if __name__ == "__main__":
    main()
