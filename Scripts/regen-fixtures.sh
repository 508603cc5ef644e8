#!/usr/bin/env bash
# Regenerates the pcs goldens: for every Fixtures/pcs/<scenario>/commands.txt, runs each line with real pcs on a
# fresh empty CIB file (pcs -f, offline: no daemon) and stores the result as Fixtures/pcs/<scenario>/cib.xml.
#
# commands.txt: one command per line, shell words, without the leading `pcs -f FILE`. Lines starting with
# `cibadmin` run cibadmin on the same file instead (CIB_file=FILE), to add nodes pcs cannot add offline.
# Blank lines and lines starting with # are skipped. Never edit cib.xml by hand: change commands.txt and rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pcs >/dev/null || { echo "regen-fixtures.sh: pcs is not installed (apt-get install pcs)" >&2; exit 1; }

only="${1:-}"
for dir in Fixtures/pcs/*/; do
    scenario="$(basename "$dir")"
    [ -n "$only" ] && [ "$only" != "$scenario" ] && continue
    [ -f "$dir/commands.txt" ] || continue
    cib="$(mktemp --suffix=.xml)"
    cibadmin --empty > "$cib"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ''|'#'*) continue ;; esac
        eval "set -- $line"
        if [ "$1" = cibadmin ]; then
            shift
            CIB_file="$cib" cibadmin "$@"
        else
            pcs -f "$cib" "$@" > /dev/null 2>"$cib.err" || { echo "$scenario: pcs $line failed:" >&2; cat "$cib.err" >&2; exit 1; }
        fi
    done < "$dir/commands.txt"
    # The epoch counts the commands; keep it out of the golden so reordering commands does not churn it.
    sed -E 's/ epoch="[0-9]+"/ epoch="1"/' "$cib" > "$dir/cib.xml"
    rm -f "$cib" "$cib.err"
    echo "regenerated $dir/cib.xml"
done
