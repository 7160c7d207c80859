package discord

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// maxAnswer bounds how much of Discord's answer is read: the created
// message (up to ten embeds of echoed text) or an error.
const maxAnswer = 1 << 20

// rateLimitHeaders are the headers discordgo's Ratelimiter acts on. The
// notifier reads them itself and hides them from discordgo, so that its
// buckets never learn a reset time and LockBucket never sleeps: waiting is
// the pipeline's decision (notify.Result.Pause, RetryableError).
var rateLimitHeaders = []string{
	"X-RateLimit-Remaining",
	"X-RateLimit-Reset",
	"X-RateLimit-Reset-After",
	"X-RateLimit-Global",
}

// answer is what one webhook call got back, as Discord sent it. discordgo
// reports a 429 without its headers and body, a 502 it did not retry as a
// plain error, and no response headers at all on success, so the
// notifier's transport records them here.
type answer struct {
	status int // 0: no response came back
	header http.Header
	body   bytes.Buffer
}

type answerKey struct{}

// withAnswer returns a context under which the recorder fills a.
func withAnswer(ctx context.Context, a *answer) context.Context {
	return context.WithValue(ctx, answerKey{}, a)
}

// recorder is the transport of the notifier's session. It records the
// answer of each request made under withAnswer and strips the rate-limit
// headers before discordgo sees them.
type recorder struct {
	base http.RoundTripper
}

func (t recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	a, _ := req.Context().Value(answerKey{}).(*answer)
	if a != nil {
		a.status, a.header = resp.StatusCode, resp.Header.Clone()
	}
	for _, h := range rateLimitHeaders {
		resp.Header.Del(h)
	}
	body := io.Reader(io.LimitReader(resp.Body, maxAnswer))
	if a != nil {
		body = io.TeeReader(body, &a.body)
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{body, resp.Body}
	return resp, nil
}
