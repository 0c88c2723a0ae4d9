#!/usr/bin/env bash
# Source files stay under 600 lines. A longer one says why in its opening comment, with the
# words "Over 600 lines" in its first 20 lines; anything else fails here. (Functions stay
# under 80 lines: clippy's too_many_lines, set in clippy.toml.)
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
checked=0
while IFS= read -r -d '' file; do
    checked=$((checked + 1))
    lines=$(wc -l <"$file")
    if [ "$lines" -gt 600 ] && ! head -n 20 "$file" | grep -q "Over 600 lines"; then
        echo "$file: $lines lines; split it, or say why in its opening comment (\"Over 600 lines because ...\")" >&2
        status=1
    fi
done < <(find src crates tests benches examples fuzz -name '*.rs' -type f -print0 2>/dev/null)
if [ "$checked" -eq 0 ]; then
    echo "check-sizes: no Rust source found under $(pwd)" >&2
    exit 1
fi
exit "$status"
