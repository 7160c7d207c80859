package elasticsearch

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// bulkResponse is the part of a _bulk answer the destination reads.
type bulkResponse struct {
	Errors bool `json:"errors"`
	// Items has one entry per action, in request order, each a map from the
	// action (create) to its result.
	Items []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// result is how one bulk answer splits a batch of n records.
type result struct {
	retry    []int
	rejected map[int]string
}

// parseBulkResponse reads a 2xx bulk answer for a batch of n records. An
// empty body counts as every document taken (some bulk-compatible servers
// answer so); a body that is not a bulk answer is an error.
func parseBulkResponse(body []byte, n int) (result, error) {
	var res result
	if len(body) == 0 {
		return res, nil
	}
	var br bulkResponse
	if err := json.Unmarshal(body, &br); err != nil {
		return res, fmt.Errorf("read bulk response: %w", err)
	}
	if !br.Errors {
		return res, nil
	}
	if len(br.Items) != n {
		return res, fmt.Errorf("bulk response has %d items for %d documents", len(br.Items), n)
	}
	for i, item := range br.Items {
		// One action per document: an item naming two would retry or
		// refuse its document twice.
		if len(item) != 1 {
			return result{}, fmt.Errorf("bulk response item %d has %d actions, want 1", i, len(item))
		}
		for _, it := range item {
			switch {
			case it.Status >= 200 && it.Status < 300:
			case it.Status == http.StatusTooManyRequests || it.Status == http.StatusRequestTimeout || it.Status >= 500:
				res.retry = append(res.retry, i)
			default:
				if res.rejected == nil {
					res.rejected = map[int]string{}
				}
				reason := fmt.Sprintf("HTTP %d", it.Status)
				if it.Error != nil {
					reason = fmt.Sprintf("HTTP %d %s: %s", it.Status, it.Error.Type, it.Error.Reason)
				}
				res.rejected[i] = reason
			}
		}
	}
	return res, nil
}
