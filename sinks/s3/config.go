package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/opshub/opshub/sinks"
)

// Config is the s3 destination's own keys (docs/config.md).
type Config struct {
	Bucket string `yaml:"bucket"`
	// Region is the bucket's region; default us-east-1 on AWS.
	Region string `yaml:"region"`
	// Endpoint is the store's URL; default AWS (https://s3.amazonaws.com).
	Endpoint string `yaml:"endpoint"`
	// Prefix is put in front of every key ("logs/").
	Prefix string `yaml:"prefix"`
	// AccessKeyID and SecretAccessKey are static credentials; without them
	// the usual AWS environment variables, shared files and instance roles
	// are tried.
	AccessKeyID     string `yaml:"accessKeyID"`
	SecretAccessKey string `yaml:"secretAccessKey"`
	// ForcePathStyle addresses buckets as endpoint/bucket rather than
	// bucket.endpoint, as MinIO and many other stores want.
	ForcePathStyle bool `yaml:"forcePathStyle"`
	// Compression is none or gzip.
	Compression string `yaml:"compression"`
}

func decodeConfig(spec sinks.Spec) (Config, error) {
	var c Config
	if err := sinks.DecodeRaw(spec, &c); err != nil {
		return Config{}, err
	}
	if c.Endpoint == "" {
		c.Endpoint = "https://s3.amazonaws.com"
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	return c, nil
}

// Validate reports every bad key at once.
func (c Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket: is required"))
	} else if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket: %w", err))
	}
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("endpoint: want an http or https URL without a path, got %q", c.Endpoint))
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("accessKeyID and secretAccessKey: give both or neither"))
	}
	if strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("prefix: must not start with /, got %q", c.Prefix))
	}
	switch c.Compression {
	case "", "none", "gzip":
	default:
		errs = append(errs, fmt.Errorf("compression: want none or gzip, got %q", c.Compression))
	}
	return errors.Join(errs...)
}
