package pushd

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"mkt/pkg/campaign"
	"mkt/pkg/config"
	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/schedule"
)

// ScheduleOptions are the settings of the schedule runner (docs/SCHEDULES.md).
type ScheduleOptions struct {
	Poll   time.Duration
	Lease  time.Duration
	Hold   time.Duration
	HoldAt string
}

// Bind registers the --schedule-* flags on fs.
func (o *ScheduleOptions) Bind(fs *pflag.FlagSet) {
	config.Duration(fs, &o.Poll, "schedule-poll", "MKT_SCHEDULE_POLL", schedule.DefaultPollInterval, "how often due schedules are looked for (every pushd fires them; each firing happens once)")
	config.Duration(fs, &o.Lease, "schedule-lease", "MKT_SCHEDULE_LEASE", schedule.DefaultLease, "how long a firing stays with a pushd that stopped answering before another takes it over")
	// Fault tests only: hold every firing to kill a pushd in the middle of one.
	fs.DurationVar(&o.Hold, "schedule-test-hold", 0, "fault tests: hold every firing this long at --schedule-test-hold-at")
	fs.StringVar(&o.HoldAt, "schedule-test-hold-at", schedule.HoldAfterClaim, "fault tests: claim or create")
	_ = fs.MarkHidden("schedule-test-hold")
	_ = fs.MarkHidden("schedule-test-hold-at")
}

func (o *ScheduleOptions) validate() error {
	if o.Poll < 100*time.Millisecond || o.Poll > time.Minute {
		return fmt.Errorf("--schedule-poll %v: want 100ms..1m", o.Poll)
	}
	if o.Lease < time.Second || o.Lease > time.Hour {
		return fmt.Errorf("--schedule-lease %v: want 1s..1h", o.Lease)
	}
	if o.Hold != 0 && o.HoldAt != schedule.HoldAfterClaim && o.HoldAt != schedule.HoldAfterCreate {
		return fmt.Errorf("--schedule-test-hold-at %q: want %s or %s", o.HoldAt, schedule.HoldAfterClaim, schedule.HoldAfterCreate)
	}
	return nil
}

// scheduleRunner builds the component that fires schedules: campaigns and
// hot-goods runs are created through tx, atomically with their created
// event on eventsTopic, as `mktctl campaign create` and `hotgoods run` do.
func scheduleRunner(env *daemoncmd.Env, o *Options, tx campaign.TxSender, eventsTopic string) (*schedule.Runner, error) {
	return schedule.NewRunner(schedule.RunnerConfig{
		DB:           env.Deps.DB,
		Creator:      campaign.Creator{DB: env.Deps.DB, Tx: tx, Topic: eventsTopic},
		Owner:        o.Instance,
		PollInterval: o.Schedules.Poll,
		Lease:        o.Schedules.Lease,
		Registerer:   env.Registry,
		Logger:       env.Logger,
		Hold:         o.Schedules.Hold,
		HoldAt:       o.Schedules.HoldAt,
	})
}
