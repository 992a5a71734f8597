package provider

// The JSON wire format spoken by HTTPProvider and by the simulator in
// mkt/pkg/providersim. See the package documentation for the full contract.

// WireMessage is one message to one recipient: the body of a per-recipient
// POST, and one element of a batch request.
type WireMessage struct {
	// IdempotencyKey identifies this delivery; the provider must deliver a key
	// at most once (see RecipientKey).
	IdempotencyKey string `json:"idempotency_key"`
	// Channel is the delivery channel.
	Channel Channel `json:"channel"`
	// To is the channel address: mobile number, e-mail address, push token, or
	// the decimal member id for the inbox channel.
	To string `json:"to"`
	// MemberID is the member's account id.
	MemberID uint64 `json:"member_id"`
	// Title is the optional subject or heading.
	Title string `json:"title,omitempty"`
	// Body is the rendered message text.
	Body string `json:"body"`
	// CampaignID is the campaign the message belongs to.
	CampaignID uint64 `json:"campaign_id"`
}

// WireBatchRequest is the body of a batch POST.
type WireBatchRequest struct {
	// Messages holds one message per recipient, at most the provider's batch size.
	Messages []WireMessage `json:"messages"`
}

// WireResult is the provider's answer for one recipient: the body of a 2xx
// answer to a per-recipient POST (member_id may be omitted there; "ok" absent
// counts as true), and one element of a batch response.
type WireResult struct {
	// MemberID is the recipient's member id.
	MemberID uint64 `json:"member_id,omitempty"`
	// OK reports that the provider accepted the message.
	OK bool `json:"ok"`
	// ID is the provider's message id, if any.
	ID string `json:"id,omitempty"`
	// Error explains a failure.
	Error string `json:"error,omitempty"`
	// Retryable marks a failure as transient (send again later); absent means
	// permanent.
	Retryable bool `json:"retryable,omitempty"`
}

// WireBatchResponse is the body of a 2xx answer to a batch POST. Results are
// matched to the request by member_id; a recipient without a result is
// treated as a transient failure and sent again.
type WireBatchResponse struct {
	// Results holds one entry per recipient of the request.
	Results []WireResult `json:"results"`
}

// WireError is the JSON body of a non-2xx answer.
type WireError struct {
	// Error explains the failure.
	Error string `json:"error"`
}

// wireSingleAnswer decodes a 2xx answer to a per-recipient POST, telling an
// absent "ok" (success) from an explicit false.
type wireSingleAnswer struct {
	OK        *bool  `json:"ok"`
	ID        string `json:"id"`
	Error     string `json:"error"`
	Retryable bool   `json:"retryable"`
}
