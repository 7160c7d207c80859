// Package s3 is the sink destination that archives log records as objects
// in any S3-compatible store (AWS S3, MinIO, R2, …), written with minio-go.
//
// Every batch becomes one object per project, service and UTC day, keyed
// <prefix><project>/<service>/date=YYYY-MM-DD/<unix>-<uuid>.log[.gz], holding
// one record per line in the sink's encoding, gzipped when configured. It
// must not retry or buffer by itself: minio-go's own retries are switched
// off, and failures are classified for the sinks machinery.
package s3
