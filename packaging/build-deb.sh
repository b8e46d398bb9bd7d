#!/usr/bin/env bash
# Builds the Debian package of nextpanel-bill: the release binary, its shell completions,
# then `cargo deb` (install it with `cargo install cargo-deb --locked`). Prints the path
# of the .deb as the last line of standard output.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || {
    echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 1
}

echo "==> release build" >&2
cargo build --release --locked -p nextpanel-bill >&2

# cargo-deb reads `target/release/...` assets from the real target directory.
target_dir=$(cargo metadata --format-version 1 --no-deps --locked \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/nextpanel-bill"
completions="$target_dir/release/completions"

echo "==> shell completions (from $bin)" >&2
mkdir -p "$completions"
"$bin" completions bash >"$completions/nextpanel-bill.bash"
"$bin" completions zsh >"$completions/_nextpanel-bill"
"$bin" completions fish >"$completions/nextpanel-bill.fish"
for f in nextpanel-bill.bash _nextpanel-bill nextpanel-bill.fish; do
    [ -s "$completions/$f" ] || { echo "empty completion script $completions/$f" >&2; exit 1; }
done

echo "==> cargo deb ($(cargo deb --version 2>/dev/null || echo cargo-deb))" >&2
out="$target_dir/debian"
mkdir -p "$out"
rm -f "$out"/nextpanel-bill_*.deb
cargo deb -p nextpanel-bill --no-build --locked --output "$out" >&2
debs=("$out"/nextpanel-bill_*.deb)
deb=${debs[0]}
[ "${#debs[@]}" = 1 ] && [ -f "$deb" ] || { echo "cargo deb made no single package in $out" >&2; exit 1; }
echo "$deb"
