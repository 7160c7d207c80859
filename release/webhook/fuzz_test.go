package webhook

import (
	"bytes"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzRead: a delivery is accepted when, and only when, it carries a
// signature made with the secret. Signed deliveries (the fuzzer decides
// the body, the id, the time within the tolerance and junk around the
// signature) pass; unsigned ones, whatever their headers say, do not.
func FuzzRead(f *testing.F) {
	push, err := os.ReadFile("testdata/github-push.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), true, "", "72d3162e-cc78-11e3-81ab-4c9367dc0958", int64(0), push)
	f.Add(uint8(1), true, "", "", int64(0), []byte(`{"object_kind":"push"}`))
	f.Add(uint8(2), true, "v1,bm90IGEgc2lnbmF0dXJl", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", int64(-299), []byte(`{"ref":"refs/heads/main"}`))
	f.Add(uint8(0), false, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "", int64(0), []byte("Hello, World!"))
	f.Add(uint8(2), false, "v1,", "x", int64(0), []byte{})
	f.Fuzz(func(t *testing.T, kind uint8, signed bool, header, id string, offset int64, body []byte) {
		ts := now.Add(time.Duration(offset%int64(Tolerance/time.Second)) * time.Second)
		req := httptest.NewRequest("POST", "/hooks/flows/ship", bytes.NewReader(body))
		var correct string
		switch kind % 3 {
		case 0:
			correct = githubSignature(secret, body)
			req.Header.Set("X-Hub-Signature-256", pick(signed, correct, header))
		case 1:
			correct = string(secret)
			req.Header.Set("X-Gitlab-Token", pick(signed, correct, header))
		case 2:
			correct = SignStandard(id, ts, secret, body)
			req.Header.Set("webhook-id", id)
			req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
			req.Header.Set("webhook-signature", pick(signed, header+" "+correct, header))
		}
		d, err := Read(req, secret, now)
		switch {
		case len(body) > MaxBody:
			if err != ErrTooLarge {
				t.Fatalf("a body of %d bytes gave %v", len(body), err)
			}
		case signed && id == "" && kind%3 == 2:
			// Standard Webhooks needs an id.
		case signed && err != nil:
			t.Fatalf("a signed delivery was refused: %v", err)
		case !signed && err == nil && !strings.Contains(strings.ToLower(header), strings.ToLower(correct[len(correct)-8:])):
			// Only a header holding the signature (or GitLab's secret)
			// may pass.
			t.Fatalf("an unsigned delivery (%q) was accepted", header)
		case err == nil && !bytes.Equal(d.Body, body):
			t.Fatalf("the body read differs from the body sent")
		}
	})
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// FuzzParsePush: any body a signed sender posts reads without panicking,
// and a push's branch is its ref without refs/heads/.
func FuzzParsePush(f *testing.F) {
	for _, name := range []string{"testdata/github-push.json", "testdata/gitlab-push.json"} {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, ok, err := ParsePush(body)
		if err != nil && ok {
			t.Fatalf("a push along with %v", err)
		}
		if ok && p.Branch != "" && !bytes.Contains(body, []byte(p.Branch)) && !bytes.Contains(body, []byte(`\`)) {
			t.Fatalf("branch %q is not in the payload", p.Branch)
		}
	})
}
