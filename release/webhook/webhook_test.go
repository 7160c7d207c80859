package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("It's a Secret to Everybody")
	now    = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
)

func githubSignature(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestGitHubSignatureFromDocs(t *testing.T) {
	// The example GitHub's documentation gives for validating deliveries.
	got := githubSignature([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Fatalf("signature %s, want GitHub's %s", got, want)
	}
	req := httptest.NewRequest("POST", "/hooks/flows/ship", strings.NewReader("Hello, World!"))
	req.Header.Set("X-Hub-Signature-256", want)
	if _, err := Read(req, secret, now); err != nil {
		t.Fatalf("Read: %v", err)
	}
}

func TestRead(t *testing.T) {
	push, err := os.ReadFile("testdata/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	stdID := "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	cases := []struct {
		name    string
		body    []byte
		headers map[string]string
		want    error
		prov    string
	}{
		{name: "github signed", body: push, prov: GitHub, headers: map[string]string{
			"X-Hub-Signature-256": githubSignature(secret, push), "X-GitHub-Delivery": "72d3162e", "X-GitHub-Event": "push"}},
		{name: "github wrong secret", body: push, want: ErrBadSignature, headers: map[string]string{
			"X-Hub-Signature-256": githubSignature([]byte("guess"), push)}},
		{name: "github body changed", body: append(bytes.Clone(push), ' '), want: ErrBadSignature, headers: map[string]string{
			"X-Hub-Signature-256": githubSignature(secret, push)}},
		{name: "github sha1 only", body: push, want: ErrBadSignature, headers: map[string]string{
			"X-Hub-Signature-256": "sha1=0000"}},
		{name: "unsigned", body: push, want: ErrUnsigned},
		{name: "gitlab token", body: push, prov: GitLab, headers: map[string]string{"X-Gitlab-Token": string(secret), "X-Gitlab-Event": "Push Hook"}},
		{name: "gitlab wrong token", body: push, want: ErrBadSignature, headers: map[string]string{"X-Gitlab-Token": "nope"}},
		{name: "standard webhooks", body: push, prov: StandardWebhooks, headers: map[string]string{
			"webhook-id": stdID, "webhook-timestamp": strconv.FormatInt(now.Unix(), 10),
			"webhook-signature": "v1,bm9wZQ== " + SignStandard(stdID, now, secret, push)}},
		{name: "standard webhooks stale", body: push, want: ErrStale, headers: map[string]string{
			"webhook-id": stdID, "webhook-timestamp": strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10),
			"webhook-signature": SignStandard(stdID, now.Add(-6*time.Minute), secret, push)}},
		{name: "standard webhooks another id", body: push, want: ErrBadSignature, headers: map[string]string{
			"webhook-id": "msg_other", "webhook-timestamp": strconv.FormatInt(now.Unix(), 10),
			"webhook-signature": SignStandard(stdID, now, secret, push)}},
		{name: "over 1 MiB", body: bytes.Repeat([]byte("x"), MaxBody+1), want: ErrTooLarge, headers: map[string]string{
			"X-Hub-Signature-256": githubSignature(secret, bytes.Repeat([]byte("x"), MaxBody+1))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/hooks/flows/ship", bytes.NewReader(c.body))
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			d, err := Read(req, secret, now)
			if !errors.Is(err, c.want) {
				t.Fatalf("Read: %v, want %v", err, c.want)
			}
			if c.want == nil && (d.Provider != c.prov || !bytes.Equal(d.Body, c.body)) {
				t.Errorf("delivery %s with %d bytes, want %s with %d", d.Provider, len(d.Body), c.prov, len(c.body))
			}
		})
	}
}

func TestStandardKeyDecodesWhsec(t *testing.T) {
	if got := string(StandardKey([]byte("whsec_c2VjcmV0"))); got != "secret" {
		t.Errorf("key %q, want the base64 after whsec_ decoded", got)
	}
	if got := string(StandardKey([]byte("plain"))); got != "plain" {
		t.Errorf("key %q, want a plain secret as it is", got)
	}
}

func TestParsePush(t *testing.T) {
	for _, c := range []struct {
		file string
		want Push
		skip bool
	}{
		{"testdata/github-push.json", Push{Branch: "main", SHA: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", Repository: "acme/web", Message: "Update README.md"}, false},
		{"testdata/gitlab-push.json", Push{Branch: "release", SHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Repository: "acme/web", Message: "fixed readme [ci skip]\n"}, true},
	} {
		body, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := ParsePush(body)
		if err != nil || !ok {
			t.Fatalf("%s: ParsePush: %v, %v", c.file, ok, err)
		}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.file, got, c.want)
		}
		if got.SkipCI() != c.skip {
			t.Errorf("%s: SkipCI %v, want %v", c.file, got.SkipCI(), c.skip)
		}
	}
	if _, ok, err := ParsePush([]byte(`{"zen": "Keep it logically awesome."}`)); ok || err != nil {
		t.Errorf("a ping is not a push: ok %v, err %v", ok, err)
	}
}
