// Package childproc runs mkt's daemons — pushd and couponsd, which share one
// runtime — as child processes of a benchmark or a test: it finds their
// executables (Find), starts them on a free ops port with a JSON log
// (Start), waits until they are ready, reads their /metrics, their memory
// from /proc and their logs, and stops them (SIGTERM, then SIGKILL).
//
// Nothing here is a fake: the processes are the real binaries, talking to
// the configured MySQL, Redis and RocketMQ. `mktctl bench` uses it, and so
// do the multi-process tests (through pkg/pushtest).
package childproc
