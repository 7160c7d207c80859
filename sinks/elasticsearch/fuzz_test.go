package elasticsearch

import "testing"

// FuzzParseBulkResponse: whatever a bulk answer says, every document of
// the batch ends up in at most one of retried and refused, and none of
// them is named twice (a document retried twice is delivered twice).
func FuzzParseBulkResponse(f *testing.F) {
	f.Add([]byte(`{"took":3,"errors":false,"items":[{"create":{"_index":"logs","status":201}}]}`), uint8(1))
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse"}}}]}`), uint8(3))
	// Found by review of the target: two actions in one item retried the
	// document twice.
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":500},"index":{"status":503}}]}`), uint8(1))
	f.Add([]byte(`{"errors":true,"items":[{}]}`), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		res, err := parseBulkResponse(body, int(n))
		if err != nil {
			if res.retry != nil || res.rejected != nil {
				t.Fatalf("a result along with %v", err)
			}
			return
		}
		seen := map[int]bool{}
		for _, i := range res.retry {
			if i < 0 || i >= int(n) || seen[i] {
				t.Fatalf("retry names document %d of %d twice or out of range: %v", i, n, res.retry)
			}
			seen[i] = true
		}
		for i, reason := range res.rejected {
			if i < 0 || i >= int(n) || seen[i] {
				t.Fatalf("document %d of %d both retried and refused, or out of range", i, n)
			}
			if reason == "" {
				t.Fatalf("document %d refused without a reason", i)
			}
		}
	})
}
