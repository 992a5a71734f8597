// Package pushtest runs the push pipeline as separate processes against the
// real stack, for the multi-process tests of pkg/pushd and for
// `mktctl bench push`: pushd child processes (started, watched through their
// JSON logs and /readyz, signalled, stopped, measured from /proc), a provider
// simulator that also records how long each send call took as the server saw
// it, and an audit that compares what the simulator delivered with the
// members who should have got the message.
//
// Nothing here is a fake: the processes are the real pushd binary, talking to
// the configured MySQL, Redis and RocketMQ.
package pushtest
