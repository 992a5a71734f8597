package providersim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the simulator's base URL, e.g. "http://127.0.0.1:8900" (required).
	BaseURL string
	// HTTPClient makes the calls (default: a client with a 2-minute timeout,
	// enough for a full report of 10M members).
	HTTPClient *http.Client
}

// Client reads a running simulator's stats and deliveries over HTTP.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient validates cfg and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: BaseURL %q must be an absolute http(s) URL", ErrInvalidConfig, cfg.BaseURL)
	}
	return &Client{
		base: strings.TrimRight(cfg.BaseURL, "/"),
		hc:   cmp.Or(cfg.HTTPClient, &http.Client{Timeout: 2 * time.Minute}),
	}, nil
}

// Stats reads GET /stats.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	if err := c.do(ctx, http.MethodGet, "/stats", &st); err != nil {
		return Stats{}, fmt.Errorf("read simulator stats: %w", err)
	}
	return st, nil
}

// Deliveries reads GET /deliveries for q.
func (c *Client) Deliveries(ctx context.Context, q DeliveryQuery) (DeliveryReport, error) {
	if err := q.normalize(); err != nil {
		return DeliveryReport{}, fmt.Errorf("read simulator deliveries: %w", err)
	}
	v := url.Values{}
	v.Set("campaign_id", strconv.FormatUint(q.CampaignID, 10))
	if q.Channel != "" {
		v.Set("channel", string(q.Channel))
	}
	if q.To > 0 {
		v.Set("from", strconv.FormatUint(q.From, 10))
		v.Set("to", strconv.FormatUint(q.To, 10))
	}
	v.Set("list", string(q.List))
	v.Set("limit", strconv.Itoa(q.Limit))
	var rep DeliveryReport
	if err := c.do(ctx, http.MethodGet, "/deliveries?"+v.Encode(), &rep); err != nil {
		return DeliveryReport{}, fmt.Errorf("read simulator deliveries of campaign %d: %w", q.CampaignID, err)
	}
	return rep, nil
}

// Reset calls POST /reset.
func (c *Client) Reset(ctx context.Context) error {
	if err := c.do(ctx, http.MethodPost, "/reset", nil); err != nil {
		return fmt.Errorf("reset simulator: %w", err)
	}
	return nil
}

// Faults reads GET /faults: the fault rates in force.
func (c *Client) Faults(ctx context.Context) (Faults, error) {
	var f Faults
	if err := c.do(ctx, http.MethodGet, FaultsPath, &f); err != nil {
		return Faults{}, fmt.Errorf("read simulator fault rates: %w", err)
	}
	return f, nil
}

// SetFaults switches the fault rates with PUT /faults.
func (c *Client) SetFaults(ctx context.Context, f Faults) error {
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := c.doBody(ctx, http.MethodPut, FaultsPath, body, nil); err != nil {
		return fmt.Errorf("switch simulator fault rates: %w", err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	return c.doBody(ctx, method, path, nil, out)
}

func (c *Client) doBody(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var we struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &we) != nil || we.Error == "" {
			we.Error = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, we.Error)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
