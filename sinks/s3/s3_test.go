package s3

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

func newFromYAML(t *testing.T, encoding, raw string) *Destination {
	return plugintest.NewSink(t, Plugin, sinks.Spec{Name: "archive", Type: "s3", Encoding: encoding}, raw).(*Destination)
}

var t0 = time.Date(2026, 11, 24, 23, 59, 59, 0, time.UTC)

func record(i int, service string, at time.Time) model.LogRecord {
	return model.LogRecord{
		Time: at, Ref: model.Ref{Project: "demo", Service: service, Instance: service + "-1", Container: service},
		Stream: "stdout", Log: fmt.Sprintf("%s line %05d", service, i),
	}
}

// TestMinIOStoresOneObjectPerServiceAndDay writes batches to a real MinIO
// and reads the objects back.
func TestMinIOStoresOneObjectPerServiceAndDay(t *testing.T) {
	m := sinktest.StartMinIO(t)
	client, err := minio.New(strings.TrimPrefix(m.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range []string{"logs", "logs-gz"} {
		if err := client.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, encoding, raw, bucket string
		wantKey                     *regexp.Regexp
		gz                          bool
	}{
		{
			name: "ndjson", bucket: "logs",
			raw:     "bucket: logs\nendpoint: " + m.Endpoint + "\nforcePathStyle: true\naccessKeyID: " + m.AccessKey + "\nsecretAccessKey: " + m.SecretKey,
			wantKey: regexp.MustCompile(`^demo/(web|api)/date=2026-11-2[45]/1795999200-[0-9a-f-]{36}\.log$`),
		},
		{
			name: "text, gzip, prefix", bucket: "logs-gz", encoding: "text", gz: true,
			raw:     "bucket: logs-gz\nprefix: archive/\ncompression: gzip\nendpoint: " + m.Endpoint + "\nforcePathStyle: true\naccessKeyID: " + m.AccessKey + "\nsecretAccessKey: " + m.SecretKey,
			wantKey: regexp.MustCompile(`^archive/demo/(web|api)/date=2026-11-2[45]/1795999200-[0-9a-f-]{36}\.log\.gz$`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFromYAML(t, tt.encoding, tt.raw)
			d.now = func() time.Time { return time.Unix(1795999200, 0) }
			// 1500 records: web and api, either side of midnight UTC.
			var recs []model.LogRecord
			for i := range 1500 {
				service := []string{"web", "api"}[i%2]
				recs = append(recs, record(i, service, t0.Add(time.Duration(i)*time.Millisecond)))
			}
			if err := d.Deliver(ctx, recs); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			lines := map[string][]string{}
			var keys []string
			for o := range client.ListObjects(ctx, tt.bucket, minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				if !tt.wantKey.MatchString(o.Key) {
					t.Errorf("key %q does not match %s", o.Key, tt.wantKey)
				}
				keys = append(keys, o.Key)
				obj, err := client.GetObject(ctx, tt.bucket, o.Key, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var r io.Reader = obj
				if tt.gz {
					if r, err = gzip.NewReader(obj); err != nil {
						t.Fatalf("%s: %v", o.Key, err)
					}
				}
				sc := bufio.NewScanner(r)
				for sc.Scan() {
					line := sc.Text()
					if tt.encoding == "" {
						var rec model.LogRecord
						if err := json.Unmarshal([]byte(line), &rec); err != nil {
							t.Fatalf("%s: line %q: %v", o.Key, line, err)
						}
						line = rec.Log
					} else {
						line = line[strings.LastIndex(line, " stdout ")+len(" stdout "):]
					}
					group := strings.Join(strings.Split(o.Key, "/")[len(strings.Split(o.Key, "/"))-4:][:2], "/")
					lines[group] = append(lines[group], line)
				}
			}
			if len(keys) != 4 {
				t.Fatalf("got %d objects, want 4 (2 services × 2 days): %v", len(keys), keys)
			}
			total := 0
			for group, ls := range lines {
				total += len(ls)
				if !slices.IsSortedFunc(ls, func(a, b string) int { return strings.Compare(a[len(a)-5:], b[len(b)-5:]) }) {
					t.Errorf("%s: lines out of order", group)
				}
			}
			if total != len(recs) {
				t.Errorf("objects hold %d lines, want %d", total, len(recs))
			}
		})
	}
}

func TestMinIOMissingBucketIsRefused(t *testing.T) {
	m := sinktest.StartMinIO(t)
	d := newFromYAML(t, "", "bucket: nope\nendpoint: "+m.Endpoint+"\nforcePathStyle: true\naccessKeyID: "+m.AccessKey+"\nsecretAccessKey: "+m.SecretKey)
	err := d.Deliver(context.Background(), []model.LogRecord{record(0, "web", t0)})
	if err == nil || sinks.IsRetryable(err) || !strings.Contains(err.Error(), "bucket") {
		t.Fatalf("Deliver to a missing bucket = %v, want a permanent error naming the bucket", err)
	}
	var pe *sinks.PartialError
	if errors.As(err, &pe) {
		t.Fatalf("single object failure reported as partial: %v", err)
	}
}

func TestDeliverToAnUnreachableStoreIsRetryable(t *testing.T) {
	d := newFromYAML(t, "", "bucket: logs\nendpoint: http://"+sinktest.FreeAddr(t)+"\naccessKeyID: a\nsecretAccessKey: b")
	err := d.Deliver(context.Background(), []model.LogRecord{record(0, "web", t0)})
	if !sinks.IsRetryable(err) {
		t.Fatalf("Deliver = %v, want retryable", err)
	}
}

func TestSettingsRefuseBadKeys(t *testing.T) {
	plugintest.CheckRefusals(t, Plugin.Settings, []plugintest.Refusal{
		{Name: "endpoint with a path", Keys: "bucket: logs\nendpoint: http://x/y", Want: "endpoint"},
		{Name: "key without secret", Keys: "bucket: logs\naccessKeyID: a", Want: "secretAccessKey: is required when accessKeyID is given"},
		{Name: "absolute prefix", Keys: "bucket: logs\nprefix: /logs", Want: "prefix"},
		{Name: "bucket name too short", Keys: "bucket: b", Want: "bucket: Bucket name cannot be shorter than 3 characters"},
	})
}
