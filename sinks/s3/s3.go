package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// Destination uploads batches to one bucket.
type Destination struct {
	cfg         Config
	client      *minio.Client
	append      sinks.AppendFunc
	contentType string
	logger      *slog.Logger
	now         func() time.Time
}

var _ sinks.Destination = (*Destination)(nil)

// New builds an s3 destination from the sink's spec. It does not contact
// the store.
func New(spec sinks.Spec) (sinks.Destination, error) {
	cfg, err := sinks.ConfigOf[Config](spec)
	if err != nil {
		return nil, err
	}
	enc, err := sinks.Encoder(spec.Encoding)
	if err != nil {
		return nil, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	u, _ := url.Parse(cfg.Endpoint) // checked by Validate
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
	})
	if cfg.AccessKeyID != "" {
		creds = credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	}
	lookup := minio.BucketLookupAuto
	if cfg.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		// The sinks machinery retries with back-off and a durable buffer;
		// a second retry loop here would only hide failures from it.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("sink %q: s3 client: %w", spec.Name, err)
	}
	contentType := "application/x-ndjson"
	if spec.Encoding == "text" {
		contentType = "text/plain; charset=utf-8"
	}
	if cfg.Compression == "gzip" {
		contentType = "application/gzip"
	}
	return &Destination{
		cfg: cfg, client: client, append: enc, contentType: contentType,
		logger: spec.DestinationLogger("s3"), now: time.Now,
	}, nil
}

// Deliver uploads one object per project, service and day of the batch.
// When an upload fails, its records are reported (a *sinks.PartialError
// when other objects of the batch were stored): for retry on network
// errors, 408, 429 and 5xx, as rejected on other refusals (no such bucket,
// access denied).
func (d *Destination) Deliver(ctx context.Context, records []model.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	objects, err := buildObjects(records, d.cfg.Prefix, d.append, d.cfg.Compression == "gzip", d.now())
	if err != nil {
		return fmt.Errorf("s3: build objects: %w", err)
	}
	if len(objects) == 1 {
		return d.put(ctx, objects[0])
	}
	partial := &sinks.PartialError{}
	for _, o := range objects {
		err := d.put(ctx, o)
		var re *sinks.RetryableError
		switch {
		case err == nil:
		case errors.As(err, &re):
			partial.Retry = append(partial.Retry, o.indexes...)
			partial.RetryAfter = max(partial.RetryAfter, re.RetryAfter)
		default:
			if partial.Rejected == nil {
				partial.Rejected = map[int]string{}
			}
			for _, i := range o.indexes {
				partial.Rejected[i] = err.Error()
			}
		}
	}
	if len(partial.Retry) == 0 && len(partial.Rejected) == 0 {
		return nil
	}
	return partial
}

func (d *Destination) put(ctx context.Context, o object) error {
	_, err := d.client.PutObject(ctx, d.cfg.Bucket, o.key, bytes.NewReader(o.body), int64(len(o.body)),
		minio.PutObjectOptions{ContentType: d.contentType})
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	errors.As(err, &resp) // StatusCode stays 0 for network errors
	err = fmt.Errorf("s3 put %s/%s: %w", d.cfg.Bucket, o.key, err)
	switch code := resp.StatusCode; {
	case code == 0, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return &sinks.RetryableError{Err: err}
	}
	return err
}

// Close releases nothing: the client keeps no connections it must close.
// It is safe to call more than once.
func (d *Destination) Close() error { return nil }
