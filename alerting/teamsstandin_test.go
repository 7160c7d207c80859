package alerting

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// teamsStandIn behaves like a Microsoft Teams incoming webhook (a Workflows
// trigger): it takes an Adaptive Card message, answers 202, and enforces
// the documented limits: 413 for a body over 28 KB, 429 with Retry-After
// past 4 requests in a second, 400 for a message that is not an Adaptive
// Card. It can also be told to answer 404, as for a deleted workflow.
type teamsStandIn struct {
	mu         sync.Mutex
	attempts   []time.Time
	accepted   []teamsCard
	rejections []string
	// answer, when set, overrides the status of the n-th request (0-based).
	answer func(n int) (code int, retryAfter string)
}

// teamsCard is what the stand-in keeps of an accepted card.
type teamsCard struct {
	Body []struct {
		Type  string `json:"type"`
		Text  string `json:"text"`
		Color string `json:"color"`
	} `json:"body"`
}

const (
	teamsMaxBytes  = 28 * 1024
	teamsPerSecond = 4
)

func (s *teamsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	n := len(s.attempts)
	s.attempts = append(s.attempts, now)
	inLastSecond := 0
	for _, at := range s.attempts {
		if now.Sub(at) < time.Second {
			inLastSecond++
		}
	}
	s.mu.Unlock()
	if s.answer != nil {
		if code, retryAfter := s.answer(n); code != 0 {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(code)
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	reject := func(code int, msg string) {
		s.mu.Lock()
		s.rejections = append(s.rejections, msg)
		s.mu.Unlock()
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		fmt.Fprint(w, msg)
	}
	if inLastSecond > teamsPerSecond {
		reject(http.StatusTooManyRequests, "more than 4 requests in a second")
		return
	}
	if len(body) > teamsMaxBytes {
		reject(http.StatusRequestEntityTooLarge, fmt.Sprintf("message of %d bytes is over 28 KB", len(body)))
		return
	}
	var m struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type string `json:"type"`
				teamsCard
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Type != "message" || len(m.Attachments) != 1 ||
		m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || m.Attachments[0].Content.Type != "AdaptiveCard" ||
		len(m.Attachments[0].Content.Body) == 0 {
		reject(http.StatusBadRequest, "not a message with one Adaptive Card")
		return
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, m.Attachments[0].Content.teamsCard)
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *teamsStandIn) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

func (s *teamsStandIn) cards() []teamsCard {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]teamsCard(nil), s.accepted...)
}

func (s *teamsStandIn) rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejections...)
}
