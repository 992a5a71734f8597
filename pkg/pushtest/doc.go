// Package pushtest is the multi-process tests' toolkit: it builds the
// daemons from this module once per test binary (Build), and gives the
// tests their names for what pkg/childproc (pushd and couponsd child
// processes: start, readiness, stop, memory, logs) and pkg/bench (the timed
// provider simulator, the delivery audit) own. Test code only: `mktctl
// bench` uses those packages directly and never builds anything.
//
// Nothing here is a fake: the processes are the real binaries, talking to
// the configured MySQL, Redis and RocketMQ.
package pushtest
