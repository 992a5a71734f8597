// Package providersim is a messaging-provider simulator for development,
// tests and benchmarks (`mktctl dev provider`). It speaks exactly the wire
// format of package provider, injects latency and faults, and counts every
// delivery so a test or benchmark can check that each member got a message
// exactly once.
//
// # Send endpoints
//
// Any POST path other than the read-back ones is a send endpoint: a path
// ending in "/batch" takes {"messages":[…]} and answers {"results":[…]}, any
// other takes a single message and answers {"ok":true,"id":"sim-…"}. So one
// simulator can stand in for every channel, e.g. http://127.0.0.1:8900/sms
// and http://127.0.0.1:8900/sms/batch. Malformed messages get 400, a wrong
// or missing bearer token (when Config.Token is set) 401, members in
// Config.FailMembers a permanent refusal (422 for a single call, "ok":false
// in a batch answer).
//
// Each well-formed send call first takes a latency draw (Config.Latency:
// fixed "200ms", uniform "100ms-300ms", or "normal:200ms,50ms"; waited on a
// timer, so tens of thousands of concurrent calls cost little CPU) and a fate:
// with Config.ErrorRate a 500, with Config.TimeoutRate no answer at all until
// the client gives up, with Config.RateLimit429Rate a 429 with Retry-After.
// The draws come from Config.Seed and the call's sequence number only, so
// with a fixed seed the n-th call always gets the same fate, and N calls get
// the same number of each fault, whatever their interleaving.
//
// # Counting
//
// A recipient counts as delivered when the simulator answers it OK; a call
// whose client went away during the latency counts as abandoned and delivers
// nothing. Deliveries are counted per (campaign_id, channel, member_id) — the
// identity the default idempotency key encodes — in one byte per member
// (saturating at 255) in a slice indexed by member id, so 10M members cost
// about 10 MB per campaign and channel. A second delivery of the same triple
// is a duplicate.
//
// # Read-back endpoints
//
//	GET  /stats        counters since start or reset (Stats as JSON)
//	GET  /deliveries?campaign_id=42[&channel=sms][&from=1&to=50000]
//	                   [&list=exceptions|delivered][&limit=1000]
//	                   per channel: distinct, deliveries, duplicates,
//	                   duplicated_members; with a range also missing (never
//	                   delivered in range) and unexpected (delivered outside);
//	                   and the listed members (exceptions: count != 1 in range
//	                   or any count outside; delivered: every member) with
//	                   their counts, ascending (DeliveryReport as JSON)
//	POST /reset        forget all counts and counters, restart the fault sequence
//	GET  /healthz      liveness
//
// # Switching faults at runtime
//
//	GET  /faults       the fault rates in force (Faults as JSON)
//	PUT  /faults       {"error_rate":1,"timeout_rate":0,"rate_limit_429_rate":0}
//	                   replaces them from the next send call on (strict JSON,
//	                   every rate in [0, 1], their sum at most 1): a provider
//	                   answering 500s, timing out or rate limiting for a spell,
//	                   then healthy again
//
// Client reads these from Go; Server runs a Simulator on a listener.
package providersim
