// Package push owns the fan-out worker of pushd: it consumes shard tasks
// (campaign.ShardTask, one per shard of at most a few thousand members, an id
// range never an id list) of promotions and push-mode coupons, streams each
// shard's members page by page, (for a coupon, issues it to the page,) sends
// them the campaign's message over its channels through the providers, records
// every outcome in push_message, checkpoints the shard in campaign_shard, and
// keeps live counters in Redis. It also holds the Reaper, which republishes
// the tasks of shards whose worker died.
//
// # A shard's run
//
// Worker.Handle decodes the task (an unparseable one, or one naming an
// unknown campaign or shard, is dead-lettered at once with mq.Permanent) and
// claims the shard with one conditional UPDATE: pending, or running with no
// live lease (expired, released, or ours), or paused once its campaign runs
// again; in retry mode also done. A shard already done or cancelled is
// acknowledged. A shard whose live lease another worker holds makes Handle
// return ErrShardHeld, so the broker brings the task back after a delay —
// by then that worker has finished (the task is acknowledged) or died (its
// lease expired and this worker takes over). While it works the worker
// renews its lease every Lease/3; if the lease is lost (taken over after a
// stall, or the operator parked the shard) the run stops at once.
//
// Then, page by page (PageSize members, by keyset:
// id >= start AND id > cursor AND id < end, active accounts, joined to
// membership_filter with the segment's conditions), the worker
//
//  1. checks the campaign's status (cached per process for StatusRefresh):
//     paused parks the shard as paused, cancelled as cancelled, keeping its
//     checkpoint; both take effect within StatusRefresh plus one page;
//  2. reads the page's existing delivery records (one range query on
//     push_message) and skips every member already recorded sent on a
//     channel;
//  3. sends the others over each channel — a member without an address on a
//     channel is recorded failed "no address" without a call — in provider
//     batches of MaxBatch recipients, at most MaxInFlight provider calls at
//     once across the whole worker (after an idle spell the limit opens
//     gradually over RampUp); the text is rendered once unless the
//     template uses {member_id};
//  4. while the page's calls are in flight, the worker's journal records
//     the sends that came back every JournalInterval (see the delivery
//     guarantee); at the end of the page, in one transaction, it upserts
//     every other outcome into push_message (a sent record is never
//     downgraded), brings push_failure — the failed
//     push_message rows, which failure listing and retries read — in step
//     over the page (campaign.RecordDeliveries) and moves the checkpoint:
//     cursor = last id of the page, sent/failed counters, lease renewed —
//     only if the lease is still ours (otherwise the transaction rolls
//     back);
//  5. adds the page's counts to the Redis hash campaign.ProgressKey, and feeds the
//     auto-pause window: when, over a window of MinAttemptsForAutoPause
//     provider sends of a campaign on this worker, the failure rate is above
//     FailureThreshold, the campaign is paused with the reason recorded.
//
// At the end of the range the shard is done and, if it was the last, the
// campaign completed. In retry mode (campaign.ModeRetryFailed) a second pass
// then walks the shard's failed deliveries (push_failure) and re-sends exactly
// those member-channel deliveries; successes turn the records to sent and
// move counts from failed to sent.
//
// Counters (shard sent/failed, Redis sent/failed/no_address) count
// deliveries — one member on one channel — like push_message rows.
//
// # Delivery guarantee
//
// Each member is sent a campaign's message on a channel exactly once when
// nothing fails. What a fault can repeat:
//
//   - a worker killed (kill -9, a host lost) or stalled past its lease in
//     the middle of a page: the provider calls that were on the wire at that
//     moment, plus the sends answered while waiting to be recorded, which
//     the journal had not yet recorded. The journal group-commits every
//     send that went out, across all of the worker's pages in flight, every
//     JournalInterval (records and the shard's counters, no checkpoint); the
//     worker that resumes the shard redoes the page from its checkpoint and
//     skips every member recorded sent. The bound is the worker's calls in
//     flight (at most MaxInFlight, each of up to the provider's batch) plus
//     its send rate × (the longer of JournalInterval and the longest flush,
//     plus the longest flush; Config.JournalFlushed measures flushes) — not
//     pages;
//   - a database outage: nothing. A page whose commit fails keeps its
//     outcomes in memory and retries the commit, backing off up to 5 s, for
//     OutcomeHold (10 min); no new page starts without the database (it
//     reads the page first). A lease renewal that fails because the
//     database is away does not stop the run: nobody can take the shard
//     over without the database either. When the database is back the
//     commit checks the lease: still ours (the usual case — a takeover needs
//     the task redelivered or the Reaper's Grace, 2 min, after the lease
//     ended), the page is checkpointed; taken over meanwhile, the outcomes
//     are recorded all the same without the checkpoint
//     (campaign.RecordUnchecked counts only what the records change), and
//     the new owner, which reads a page's records just before sending it,
//     skips them unless it had already read that page: only then can the
//     same page go out twice;
//   - a run stopped mid-page (lease lost to an operator's move, or the
//     process going down past its drain deadline) records the sends that
//     went out, without a checkpoint, the same way;
//   - every provider call carries a per-recipient idempotency key
//     "<kind>:<campaign>:<channel>:<member>" (see provider.RecipientKey), so a
//     provider that honours it suppresses even those repeats;
//   - the inbox channel is exactly once in every case: member_inbox is unique
//     per campaign and member;
//   - a graceful stop (BeginStop/Stop, SIGTERM in pushd) ends each shard at a
//     page boundary, committed, and repeats nothing.
//
// docs/RELIABILITY.md has the fault suite's measured counts.
//
// Nothing is lost: a shard whose worker died keeps status running with an
// expiring lease; its unacknowledged task comes back from the broker and the
// next worker resumes at the checkpoint. If the task itself is gone
// (dead-lettered after its retries), the Reaper republishes it once the lease
// has been expired for its Grace; a shard claimed MaxAttempts times without
// finishing is marked failed rather than retried forever.
//
// # Push-mode coupons
//
// A shard task of kind coupon (campaign.KindCoupon) runs the same loop for a
// push-mode coupon (pkg/coupon): the same keyset pages of the coupon's
// segment, the same lease, checkpoint and status checks (its push_status).
// Before step 2, each page is issued the coupon with coupon.IssueToMembers —
// every member topped up to the per-member limit while the quota lasts, in
// one transaction that locks the coupon row, so a redelivered or redone page
// issues nothing twice and the quota is never exceeded — and only the page's
// members who then hold the coupon (coupon.HoldersBetween) are sent the
// rendered "your coupon is waiting" message, recorded in push_message with
// campaign_kind coupon. Members left without the coupon (the quota ran out,
// or the window ended) get no message: they are counted in the Redis fields
// "issued" / "not_issued" and logged once per shard run. When every shard
// is done the coupon's push_status becomes completed. A disabled coupon
// cancels its push: the worker parks the shard cancelled at its next page
// (and cancels the push itself if it finds the coupon disabled while
// issuing). A coupon whose window has not started by this host's clock is
// released with ErrCouponNotYetValid and comes back later. The delivery
// guarantee below holds for the message as it does for a promotion; issuance
// is exactly once per member whatever happens.
//
// # Control
//
// The worker side of campaign.Control (of either kind; for a coupon its
// push_status): Pause sets the campaign paused;
// workers park their running shards (paused, checkpoint kept) at the next
// page, and a task arriving meanwhile parks its pending shard. Resume sets
// it running and republishes the shards' tasks; the worker claims a pending
// shard — or a paused one, since the campaign runs again — and resumes at
// its checkpoint, skipping whatever push_message already records as sent (a
// Reaper republishes paused shards of running campaigns left behind for
// Grace, e.g. parked by a worker just after a resume republished). Cancel
// sets the campaign cancelled; running shards are parked cancelled at the
// next page and any other task cancels its shard. RetryFailed publishes
// ModeRetryFailed tasks for the shards with failed records; the worker
// claims them pending (reopened) or done. A worker whose shard an operator
// moved under it (owner cleared, paused or cancelled) still records the page
// it sent, then stops.
package push
