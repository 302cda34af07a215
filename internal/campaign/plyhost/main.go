// Command plyhost is the ply command with one job handler more, for the
// reliability campaign (scripts/campaign.sh): the handler of queue "work"
// in module "campaign" appends "<job id> <host id>\n" to the file
// $PLY_CAMPAIGN_DONE, in one write, before it returns and the job is
// acknowledged, so the file lists every completed run of a job, a host's
// kill -9 notwithstanding. A job's payload {"ms": N} makes it run N ms
// first, so that jobs are in flight when a host is killed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/cli"
	"github.com/plykit/ply/jobqueue"
)

func main() {
	os.Exit(cli.Main(cli.WithHostOptions(ply.WithModules(ply.Module{Name: "campaign", Handlers: []ply.Handler{
		{Kind: ply.KindJob, Name: "work", Func: work},
	}}))))
}

// work records the job as done, after the work its payload asks for.
func work(ctx context.Context, c *ply.Call) error {
	j, ok := c.Request().(*jobqueue.Job)
	if !ok {
		return errors.New("campaign: not a job")
	}
	var p struct {
		MS int `json:"ms"`
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return errors.Join(jobqueue.ErrPermanent, err)
	}
	t := time.NewTimer(time.Duration(p.MS) * time.Millisecond)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
	f, err := os.OpenFile(os.Getenv("PLY_CAMPAIGN_DONE"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // the campaign names the file
	if err != nil {
		return err
	}
	_, err = f.WriteString(j.ID + " " + os.Getenv("PLY_HOST_ID") + "\n") // one write(2): whole lines, whatever kills the process
	return errors.Join(err, f.Close())
}
