#!/usr/bin/env bash
# Runs interop.py (python-icat 1.7.0 from PyPI, in a venv) against a freshly started icat-sim.
# Usage: tests/interop/run.sh   (from anywhere; builds icat-sim first)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="target/interop-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "python-icat==1.7.0" suds lxml
cargo build --quiet -p icat-sim --bin icat-sim
out="$(mktemp)"
target/debug/icat-sim --listen 127.0.0.1:0 >"$out" &
sim=$!
trap 'kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
    [ "$(wc -l <"$out")" -ge 2 ] && break
    if ! kill -0 "$sim" 2>/dev/null; then echo "icat-sim exited early" >&2; exit 1; fi
    sleep 0.1
done
wsdl="$(sed -n 1p "$out")"
ids="$(sed -n 2p "$out")"
echo "icat-sim: $wsdl $ids"
"$venv/bin/python" tests/interop/interop.py "$wsdl" "$ids"
