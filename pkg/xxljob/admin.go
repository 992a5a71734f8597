package xxljob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"mkt/pkg/textlimit"
)

// TokenHeader carries the access token, both ways.
const TokenHeader = "XXL-JOB-ACCESS-TOKEN"

// maxAdminAnswer bounds what is read of an admin's answer.
const maxAdminAnswer = 64 << 10

// adminClient calls the admin's api/registry, api/registryRemove and
// api/callback. With several admin addresses (an admin cluster sharing one
// database) each call goes to the first that accepts it, as the Java
// executor does.
type adminClient struct {
	bases  []string // each ending in "/"
	token  string
	client *http.Client
}

// call posts body to api/<path> of each admin in turn until one answers
// code 200.
func (a *adminClient) call(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("xxljob: encode %s: %w", path, err)
	}
	var errs []error
	for _, base := range a.bases {
		err := a.post(ctx, base+"api/"+path, b)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

func (a *adminClient) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("xxljob: %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if a.token != "" {
		req.Header.Set(TokenHeader, a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("xxljob: POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer+1))
	if err != nil {
		return fmt.Errorf("xxljob: POST %s: read answer: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("xxljob: POST %s: HTTP %d: %s", url, resp.StatusCode, snippet(raw))
	}
	if len(raw) > maxAdminAnswer {
		return fmt.Errorf("xxljob: POST %s: answer larger than %d bytes", url, maxAdminAnswer)
	}
	env, err := decodeEnvelope(raw)
	if err != nil {
		return fmt.Errorf("xxljob: POST %s: answer is not an envelope: %w: %s", url, err, snippet(raw))
	}
	if env.Code != CodeSuccess {
		return fmt.Errorf("xxljob: POST %s: admin answered code %d: %s", url, env.Code, env.Message())
	}
	return nil
}

// snippet shortens an answer for an error message.
func snippet(b []byte) string {
	return fmt.Sprintf("%q", textlimit.BytesMarked(strings.TrimSpace(string(b)), 200))
}
