package alerting

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"
)

// discordStandIn behaves like a Discord execute-webhook endpoint: it
// enforces the documented message limits (400 when broken), answers with the
// created message when ?wait=true, and can answer 429 with retry_after or
// 404 for a deleted webhook.
type discordStandIn struct {
	mu         sync.Mutex
	attempts   []time.Time
	accepted   int
	rejections []string
	// answer decides the status of the n-th request (0-based); nil or 0: 200.
	answer func(n int) (code int, retryAfter float64)
}

func (d *discordStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	n := len(d.attempts)
	d.attempts = append(d.attempts, time.Now())
	d.mu.Unlock()
	code, retryAfter := 0, 0.0
	if d.answer != nil {
		code, retryAfter = d.answer(n)
	}
	w.Header().Set("Content-Type", "application/json")
	switch code {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", fmt.Sprint(int(retryAfter)))
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"message": "You are being rate limited.", "retry_after": %g, "global": false}`, retryAfter)
		return
	case http.StatusNotFound:
		w.WriteHeader(code)
		fmt.Fprint(w, `{"message": "Unknown Webhook", "code": 10015}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if msg := checkDiscordLimits(body); msg != "" {
		d.mu.Lock()
		d.rejections = append(d.rejections, msg)
		d.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"message": %q, "code": 50035}`, msg)
		return
	}
	d.mu.Lock()
	d.accepted++
	id := d.accepted
	d.mu.Unlock()
	if r.URL.Query().Get("wait") != "true" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	fmt.Fprintf(w, `{"id": "%d", "type": 0}`, 1000+id)
}

func (d *discordStandIn) times() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.attempts...)
}

// checkDiscordLimits says which documented limit a message breaks, or "".
func checkDiscordLimits(body []byte) string {
	var m struct {
		Content string `json:"content"`
		Embeds  []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Fields      []struct{ Name, Value string }
			Footer      *struct{ Text string }
		} `json:"embeds"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "invalid JSON: " + err.Error()
	}
	n := utf8.RuneCountInString
	switch {
	case m.Content == "" && len(m.Embeds) == 0:
		return "cannot send an empty message"
	case n(m.Content) > 2000:
		return "content longer than 2000"
	case len(m.Embeds) > 10:
		return "more than 10 embeds"
	}
	total := 0
	for _, e := range m.Embeds {
		if n(e.Title) > 256 || n(e.Description) > 4096 || len(e.Fields) > 25 {
			return "embed title, description or field count over the limit"
		}
		total += n(e.Title) + n(e.Description)
		for _, f := range e.Fields {
			if n(f.Name) > 256 || n(f.Value) > 1024 || f.Name == "" || f.Value == "" {
				return "embed field name or value empty or over the limit"
			}
			total += n(f.Name) + n(f.Value)
		}
	}
	if total > 6000 {
		return "embeds longer than 6000 characters in total"
	}
	return ""
}
