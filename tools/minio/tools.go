//go:build tools

// Package tools pins the MinIO server built by `make tools`.
package tools

import _ "github.com/minio/minio"
