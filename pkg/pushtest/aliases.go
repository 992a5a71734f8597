package pushtest

import (
	"context"
	"io"

	"mkt/pkg/bench"
	"mkt/pkg/childproc"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/store"
)

// The names below are the tests' names for what pkg/childproc and
// pkg/bench own (the benchmarks use them too, and non-test code does not
// import a package named *test). They are aliases, not copies.

// Pushd is a running pushd (or couponsd) child process: childproc.Proc.
type Pushd = childproc.Proc

// PushdConfig configures one: childproc.Config.
type PushdConfig = childproc.Config

// LogRecord is one line of a daemon's JSON log: childproc.LogRecord.
type LogRecord = childproc.LogRecord

// Simulator is the timed provider simulator: bench.Simulator.
type Simulator = bench.Simulator

// Audit compares its deliveries with the expected members: bench.Audit.
type Audit = bench.Audit

// MsgShardDone is pushd's log message for a finished shard:
// childproc.MsgShardDone.
const MsgShardDone = childproc.MsgShardDone

// StartPushd is childproc.Start.
func StartPushd(cfg PushdConfig) (*Pushd, error) { return childproc.Start(cfg) }

// WaitAllReady is childproc.WaitAllReady.
func WaitAllReady(ctx context.Context, ps []*Pushd) error { return childproc.WaitAllReady(ctx, ps) }

// StopAll is childproc.StopAll.
func StopAll(ctx context.Context, ps []*Pushd) ([]int, error) { return childproc.StopAll(ctx, ps) }

// ScanLog is childproc.ScanLog.
func ScanLog(r io.Reader, fn func(LogRecord)) error { return childproc.ScanLog(r, fn) }

// FreeAddr is childproc.FreeAddr.
func FreeAddr() (string, error) { return childproc.FreeAddr() }

// StartSimulator is bench.StartSimulator.
func StartSimulator(addr string, cfg providersim.Config) (*Simulator, error) {
	return bench.StartSimulator(addr, cfg)
}

// EveryoneQuery is bench.EveryoneQuery.
func EveryoneQuery(ch provider.Channel) (string, error) { return bench.EveryoneQuery(ch) }

// AuditEveryone is bench.AuditEveryone.
func AuditEveryone(ctx context.Context, db store.Handler, sim *providersim.Simulator, campaignID uint64, ch provider.Channel) (Audit, error) {
	return bench.AuditEveryone(ctx, db, sim, campaignID, ch)
}

// AuditQuery is bench.AuditQuery.
func AuditQuery(ctx context.Context, db store.Handler, sim *providersim.Simulator, campaignID uint64, ch provider.Channel, query string, args ...any) (Audit, error) {
	return bench.AuditQuery(ctx, db, sim, campaignID, ch, query, args...)
}
