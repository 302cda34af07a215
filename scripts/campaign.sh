#!/usr/bin/env bash
# The reliability campaign: 3 NATS servers and 3 `ply run` hosts as real
# processes on loopback, under HTTP load and job enqueueing, through kill -9
# of hosts, kill and restart of NATS servers and configuration pushes; it
# fails if an enqueued job never completed, and prints a table of jobs,
# duplicates, failed requests by cause and reload outcomes.
#
#   scripts/campaign.sh --short   about 30 s of faults (CI: scripts/test.sh)
#   scripts/campaign.sh           100 host kills (by hand; several minutes)
#
# Bounded: the short run is stopped after 5 minutes, the long one after 40.
# PLY_CAMPAIGN_KILLS overrides the number of host kills; the table is also
# written to PLY_CAMPAIGN_REPORT when it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=long timeout=40m
case "${1:-}" in
--short) mode=short timeout=5m ;;
"") ;;
*) echo "usage: $0 [--short]" >&2; exit 2 ;;
esac
PLY_CAMPAIGN=$mode go test -count=1 -timeout="$timeout" -run='^TestCampaign$' -v ./internal/campaign
