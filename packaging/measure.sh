#!/usr/bin/env bash
# Measures a greenlight binary the same way every time, under Xvfb: file size; cold start to
# a drawn checklist, that is from launch until the window is titled with the spec's
# deployment, which the app does in the first frame that draws the checklist (median of 5);
# and, after 10 s idle on that spec (no cluster, so nothing to watch), resident memory and
# the CPU time used during 10 more idle seconds (nothing should repaint).
# Usage: packaging/measure.sh PATH/TO/greenlight
set -euo pipefail
binary=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
spec="$root/specs/examples/quickstart.yaml"
display=:$((150 + RANDOM % 40))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp & xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
starts=()
for _ in 1 2 3 4 5; do
    home=$(mktemp -d)
    began=$(date +%s%N)
    DISPLAY=$display HOME=$home KUBECONFIG=/nonexistent "$binary" "$spec" >/dev/null 2>&1 & app=$!
    for _ in $(seq 1 3000); do
        DISPLAY=$display xdotool search --name '^acme-analytics - Greenlight$' >/dev/null 2>&1 && break
        sleep 0.01
    done
    starts+=($(( ($(date +%s%N) - began) / 1000000 )))
    kill $app; wait $app 2>/dev/null || true
    rm -rf "$home"
done
median=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 3p)
home=$(mktemp -d)
DISPLAY=$display HOME=$home KUBECONFIG=/nonexistent "$binary" "$spec" >/dev/null 2>&1 & app=$!
sleep 10
rss=$(awk '/VmRSS/ {print $2}' /proc/$app/status)
ticks() { awk '{print $14 + $15}' /proc/$app/stat; }
before=$(ticks); sleep 10; after=$(ticks)
kill $app; wait $app 2>/dev/null || true
rm -rf "$home"
hz=$(getconf CLK_TCK)
printf 'binary %s: size %.1f MB; launch to drawn checklist median %d ms (runs: %s); idle RSS %.0f MB; idle CPU %.1f%% over 10 s\n' \
    "$binary" "$(echo "$(stat -c %s "$binary") / 1048576" | bc -l)" "$median" "${starts[*]}" "$(echo "$rss / 1024" | bc -l)" "$(echo "($after - $before) * 100 / $hz / 10" | bc -l)"
