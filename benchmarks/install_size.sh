#!/usr/bin/env bash
# Install size and time of `pip install --no-cache-dir .` into a fresh venv, for two trees,
# interleaved (the machine is noisy: compare within a pair). Prints one line per install.
#   benchmarks/install_size.sh OLD_TREE NEW_TREE [PAIRS]
# e.g. mkdir /tmp/old && git archive main | tar -x -C /tmp/old && benchmarks/install_size.sh /tmp/old .
set -euo pipefail
old=$1; new=$2; pairs=${3:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
one() {  # TREE NAME
  python3 -m venv "$work/$2"
  "$work/$2/bin/python" -m pip install -q --no-cache-dir --upgrade pip >/dev/null 2>&1 || true
  local empty start end size count
  empty=$(du -sm "$work/$2" | cut -f1)
  start=$(date +%s.%N)
  "$work/$2/bin/python" -m pip install -q --no-cache-dir "$1" >/dev/null 2>&1
  end=$(date +%s.%N)
  size=$(du -sm "$work/$2" | cut -f1)
  count=$("$work/$2/bin/python" -m pip list 2>/dev/null | tail -n +3 | wc -l)
  printf '%s: %.1f s, %d MB installed (venv %d MB, empty %d MB), %d packages, load %s\n' \
    "$2" "$(echo "$end - $start" | bc)" $((size - empty)) "$size" "$empty" "$count" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  rm -rf "${work:?}/$2"
}
for _ in $(seq "$pairs"); do
  one "$old" old
  one "$new" new
done
