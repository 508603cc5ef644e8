#!/usr/bin/env bash
# Installs khactl's man page and shell completions, both generated from its argument parser:
# the man page by swift-argument-parser's generate-manual plugin, the completions by
# `khactl --generate-completion-script`. PREFIX (default /usr/local) says where.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${PREFIX:-/usr/local}"

swift build --product khactl
khactl="$(swift build --show-bin-path)/khactl"
swift package plugin generate-manual --configuration debug
manual="$(find .build/plugins -path '*GenerateManual*' -name khactl.1 | head -n 1)"
[ -n "$manual" ] || { echo "install-man.sh: the generate-manual plugin wrote no khactl.1" >&2; exit 1; }

install -D -m 0644 "$manual" "$prefix/share/man/man1/khactl.1"
"$khactl" --generate-completion-script bash | install -D -m 0644 /dev/stdin "$prefix/share/bash-completion/completions/khactl"
"$khactl" --generate-completion-script zsh | install -D -m 0644 /dev/stdin "$prefix/share/zsh/site-functions/_khactl"
"$khactl" --generate-completion-script fish | install -D -m 0644 /dev/stdin "$prefix/share/fish/vendor_completions.d/khactl.fish"
echo "installed: $prefix/share/man/man1/khactl.1 and bash, zsh and fish completions under $prefix/share"
