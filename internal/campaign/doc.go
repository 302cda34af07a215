// Package campaign is ply's reliability campaign (scripts/campaign.sh): a
// fleet of three `ply run` hosts on a three-server NATS JetStream cluster,
// all real processes on loopback, under steady HTTP load and job
// enqueueing, through a schedule of faults — kill -9 of hosts while they
// process jobs, kill and restart of one NATS server, configuration pushes
// (good ones, and one the hosts cannot apply). At the end it checks that
// every enqueued job completed at least once and that every host serves
// the last good revision, and reports duplicates, failed requests by
// cause, and reload outcomes as a table.
//
// The campaign is the test TestCampaign, which runs only when
// PLY_CAMPAIGN is "short" (about a minute; CI) or "long" (100 host kills;
// by hand). The hosts run the ply command built with one job handler more
// (./plyhost). PLY_CAMPAIGN_KILLS overrides the number of host kills;
// PLY_CAMPAIGN_REPORT names a file that receives the table.
package campaign
