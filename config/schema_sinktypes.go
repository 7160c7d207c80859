package config

import (
	"slices"
	"sort"
)

// Keys shared by HTTP-based destinations. TLS options follow Prometheus'
// HTTP client config.
var (
	keyURL     = rawKey{name: "url", kind: rawURL, required: true}
	keyTimeout = rawKey{name: "timeout", kind: rawDuration}
	keyHeaders = rawKey{name: "headers", kind: rawMap, secret: true}
	keyAuth    = rawKey{name: "auth", kind: rawObject, oneOf: [][]string{{"basic", "bearer"}}, keys: []rawKey{
		{name: "basic", kind: rawObject, keys: []rawKey{
			{name: "username", required: true},
			{name: "password", secret: true, required: true},
		}},
		{name: "bearer", kind: rawObject, keys: []rawKey{
			{name: "token", secret: true, required: true},
		}},
	}}
	keyTLS = rawKey{name: "tls", kind: rawObject, keys: []rawKey{
		{name: "caFile", kind: rawPath},
		{name: "certFile", kind: rawPath, with: []string{"keyFile"}},
		{name: "keyFile", kind: rawPath, with: []string{"certFile"}},
		{name: "serverName"},
		{name: "insecureSkipVerify", kind: rawBool},
		{name: "minVersion", enum: []string{"TLS10", "TLS11", "TLS12", "TLS13"}},
	}}
	keyCompression = rawKey{name: "compression", enum: []string{"none", "gzip"}}
)

// sinkSchemas are the destination keys of each sink type.
var sinkSchemas = map[string]*rawKey{
	"loki": {kind: rawObject, keys: []rawKey{
		keyURL, keyAuth, keyTLS, keyHeaders, keyTimeout,
		{name: "tenantID"},
		{name: "labels", kind: rawMap},
		{name: "labelKeys", kind: rawStrings},
	}},
	"http": {kind: rawObject, keys: []rawKey{
		keyURL, keyAuth, keyTLS, keyHeaders, keyTimeout, keyCompression,
		{name: "method", enum: []string{"POST", "PUT"}},
		{name: "framing", enum: []string{"none", "newline", "length"}},
	}},
	"elasticsearch": {kind: rawObject, keys: []rawKey{
		keyURL, keyAuth, keyTLS, keyHeaders, keyTimeout, keyCompression,
		{name: "index"},
		{name: "pipeline"},
	}},
	"datadog": {kind: rawObject, keys: []rawKey{
		{name: "apiKey", secret: true, required: true},
		{name: "site"},
		{name: "url", kind: rawURL},
		{name: "service"},
		{name: "source"},
		{name: "tags", kind: rawStrings},
		{name: "hostname"},
		keyTimeout, keyCompression,
	}},
	"syslog": {kind: rawObject, keys: []rawKey{
		{name: "address", kind: rawHostPort, required: true},
		{name: "network", enum: []string{"tcp", "udp", "tls"}},
		{name: "format", enum: []string{"rfc5424", "rfc3164"}},
		{name: "facility", enum: []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
			"uucp", "cron", "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}},
		{name: "appName"},
		keyTLS, keyTimeout,
	}},
	"s3": {kind: rawObject, keys: []rawKey{
		{name: "bucket", required: true},
		{name: "region"},
		{name: "endpoint", kind: rawURL},
		{name: "prefix"},
		{name: "accessKeyID"},
		{name: "secretAccessKey", secret: true, with: []string{"accessKeyID"}},
		{name: "forcePathStyle", kind: rawBool},
		keyCompression,
	}},
	"file": {kind: rawObject, keys: []rawKey{
		{name: "path", kind: rawPath, required: true},
		{name: "maxBytes", kind: rawSize},
		{name: "maxFiles", kind: rawInt, atLeast: 1},
	}},
	"stdout": {kind: rawObject},
	"prometheus-remote-write": {kind: rawObject, keys: []rawKey{
		keyURL, keyAuth, keyTLS, keyHeaders, keyTimeout,
	}},
}

// SinkTypes lists the sink types config accepts, sorted.
func SinkTypes() []string { return sortedKeys(sinkSchemas) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}
