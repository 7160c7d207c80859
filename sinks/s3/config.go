package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/opshub/opshub/sinks"
)

// Plugin is the s3 destination type.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return &Config{Endpoint: DefaultEndpoint} }, New: New}

// DefaultEndpoint is AWS S3.
const DefaultEndpoint = "https://s3.amazonaws.com"

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
	SecretAccessKey string `yaml:"secretAccessKey" config:"secret"`
	// ForcePathStyle addresses buckets as endpoint/bucket rather than
	// bucket.endpoint, as MinIO and many other stores want.
	ForcePathStyle bool `yaml:"forcePathStyle"`
	// Compression is none or gzip.
	Compression string `yaml:"compression"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket: is required"))
	} else if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket: %w", err))
	}
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("endpoint: want an http or https URL without a path, got %q", c.Endpoint))
	}
	if c.AccessKeyID == "" && c.SecretAccessKey != "" {
		errs = append(errs, errors.New("accessKeyID: is required when secretAccessKey is given"))
	}
	if c.AccessKeyID != "" && c.SecretAccessKey == "" {
		errs = append(errs, errors.New("secretAccessKey: is required when accessKeyID is given (or secretAccessKeyFile)"))
	}
	if strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("prefix: must not start with /, got %q", c.Prefix))
	}
	errs = append(errs, sinks.CheckCompression(c.Compression))
	return errors.Join(errs...)
}
