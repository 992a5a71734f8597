// Package provider owns delivery channels (sms, email, app push, inbox) and
// the providers that deliver a rendered campaign message to members over
// them. It defines the small Provider interface the push worker consumes and
// HTTPProvider, which speaks a documented JSON-over-HTTP wire format with rate
// limiting, per-call timeouts and retries. The in-site inbox written to the
// database is another Provider, owned by the push side.
//
// # Using a provider
//
// A worker calls Send(ctx, msg, recipients) from many goroutines, passing at
// most MaxBatch recipients per call, and gets exactly one Result per
// recipient, in order: OK with the provider's message id, or a failure whose
// Err wraps ErrRejected (permanent: record and do not resend), ErrUnavailable
// or ErrTimeout (transient: Retryable is true once the retries are used up),
// ErrInvalidMessage (refused before any call), or the context's error when ctx
// ended first (Retryable, since the member is not settled). Err never
// contains the bearer token.
//
// # Wire format
//
// Per recipient (BatchSize 1): one POST to the configured URL with headers
// "Content-Type: application/json", "Authorization: Bearer <token>" (when a
// token is configured) and "Idempotency-Key: <key>", and the body
//
//	{"idempotency_key":"42:sms:1001","channel":"sms","to":"+8613800000000",
//	 "member_id":1001,"title":"optional","body":"rendered text","campaign_id":42}
//
// "to" is the mobile number (sms), e-mail address (email), push token (app),
// or the decimal member id (inbox). The idempotency key is
// "<campaign id>:<channel>:<member id>" unless Message.IdempotencyKey sets
// another base (see RecipientKey); a provider must deliver a key at most once,
// which is what makes retries after a timeout, and a redelivered shard, safe.
//
// Answers: any 2xx is success; an optional JSON body {"ok":true,"id":"…"}
// carries the provider's message id, and {"ok":false,"error":"…"} turns the
// 2xx into a refusal (transient if it also says "retryable":true). A non-2xx
// answer may carry {"error":"reason"}.
//
// Batch (BatchSize N > 1): one POST of up to N recipients to the batch URL
// (default URL + "/batch"), same headers without Idempotency-Key, body
//
//	{"messages":[{…one message as above…}, …]}
//
// and a 2xx answer
//
//	{"results":[{"member_id":1001,"ok":true,"id":"…"},
//	            {"member_id":1002,"ok":false,"error":"invalid number"},
//	            {"member_id":1003,"ok":false,"error":"busy","retryable":true}]}
//
// matched to the request by member_id, so a batch may partly fail. A
// recipient without a result, or with "retryable":true, is sent again in the
// next attempt together with the other pending ones; the rest are settled.
//
// # Retries, timeouts and rate limits
//
// Each HTTP call has its own Timeout. Network errors, timeouts, 408, 425, 429
// and every 5xx are retried, up to MaxAttempts calls in all, after an
// exponential backoff (BackoffBase doubling up to BackoffMax, with jitter);
// when the answer carries Retry-After (seconds or an HTTP date, as 429 and
// 503 do) the pause is at least that, capped at MaxRetryAfter. Any other 4xx
// is a permanent failure with the provider's reason and is not retried.
// Before every call, retries included, the provider waits on a token-bucket
// limiter (golang.org/x/time/rate) of RateLimit per second: by default it
// counts recipients, so a batch of 100 takes 100 tokens (RateUnit
// RatePerCall counts calls instead). The limit is per HTTPProvider value,
// i.e. per process: divide a provider's global quota by the number of pushd
// processes. Context cancellation stops waits, calls and pauses at once.
//
// The default HTTP client uses NewTransport, tuned for thousands of
// concurrent in-flight calls to one host (large per-host idle pool, bounded
// dial and TLS set-up, HTTP/2 over TLS).
//
// # Pointing a channel at a real provider
//
// Real providers rarely speak this format natively. Either run a thin
// adapter next to pushd that accepts this format and calls the vendor's API
// (keeping the idempotency key as the vendor's dedupe or "out id" field), or
// configure a vendor that offers a compatible JSON endpoint. Then give the
// channel its URL (and batch URL and size if the vendor has a batch API), its
// token through an environment variable or a file (never on the command
// line), a Timeout a little above the vendor's p99 latency, and a RateLimit at
// the vendor's quota divided by the number of pushd processes. During
// development, mkt/pkg/providersim (`mktctl dev provider`) speaks this format
// and counts every delivery.
package provider
