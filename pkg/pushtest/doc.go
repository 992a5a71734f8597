// Package pushtest builds the daemons from this module for the
// multi-process tests, once per test binary (Build, BuildPushd); the tests
// start and audit them with pkg/childproc and pkg/bench, as `mktctl bench`
// does. Test code only: `mktctl bench` never builds anything.
//
// Nothing here is a fake: the processes are the real binaries, talking to
// the configured MySQL, Redis and RocketMQ.
package pushtest
