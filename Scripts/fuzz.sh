#!/usr/bin/env bash
# Fuzzes one of khactl's parsers of untrusted input with libFuzzer (Swift's -sanitize=fuzzer,address).
#   Scripts/fuzz.sh TARGET SECONDS      TARGET: spec-yaml spec-json cib crm-mon alert
# The corpus starts from Fixtures/ (and ../shared's CIB sample when it is there) and grows in
# .build-fuzz/corpus/TARGET; crashes, hangs and out-of-memory inputs land in .build-fuzz/findings/TARGET, each of
# which becomes a regression test (Tests/IntegrationTests/FuzzRegressionTests.swift reads Fixtures/fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: Scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: Scripts/fuzz.sh TARGET SECONDS}
scratch=.build-fuzz
KHACTL_FUZZ=1 swift build --scratch-path "$scratch" -c release --product khactl-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >/dev/null
binary=$(KHACTL_FUZZ=1 swift build --scratch-path "$scratch" -c release --show-bin-path)/khactl-fuzz

corpus="$scratch/corpus/$target"
findings="$scratch/findings/$target"
mkdir -p "$corpus" "$findings"
seed() { for file in "$@"; do [ -f "$file" ] && cp "$file" "$corpus/seed-$(basename "$(dirname "$file")")-$(basename "$file")"; done; }
case "$target" in
    spec-yaml) seed Fixtures/pcs/*/spec.yaml Fixtures/apply/*.yaml ;;
    spec-json) for file in Fixtures/pcs/*/spec.yaml; do
                   python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$file" \
                       >"$corpus/seed-$(basename "$(dirname "$file")").json"; done ;;
    cib) seed Fixtures/pcs/*/cib.xml; [ -d ../shared/corpora/pacemaker-cib-sample ] && seed ../shared/corpora/pacemaker-cib-sample/*.xml ;;
    crm-mon) seed Fixtures/crm_mon/*.xml ;;
    alert) printf '%s' '{"environment":{"CRM_alert_kind":"node","CRM_alert_node":"node3","CRM_alert_desc":"lost"},"from":"node1"}' >"$corpus/seed-node"
           printf '%s' '{"environment":{"CRM_alert_kind":"resource","CRM_alert_rsc":"vip","CRM_alert_task":"start","CRM_alert_rc":"0"},"from":"node2"}' >"$corpus/seed-resource" ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
esac
# -rss_limit_mb: an input that makes a parser take more than 512 MiB is a finding, as is one slower than 5 s.
# Leaks are not findings here: FoundationXML's XMLDocument on Linux leaks on every parse (found by the first
# runs: 16-95 KB per CIB or crm_mon document, inside swift-corelibs-foundation), which stops a run at its first
# input, and with detection off fills the fuzzer's memory in a few thousand runs. So the runs fork (-fork=1): a
# child that reaches the memory limit is replaced (-ignore_ooms=1), and one input that alone asks for more than
# 512 MiB (-malloc_limit_mb) is still a finding.
ASAN_OPTIONS=detect_leaks=0 KHACTL_FUZZ_TARGET=$target "$binary" "$corpus" -fork=1 -ignore_ooms=1 -max_total_time="$seconds" \
    -rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=5 -detect_leaks=0 \
    -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 2>&1 | tail -25
