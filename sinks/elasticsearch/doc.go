// Package elasticsearch is the sink destination that writes log records to
// Elasticsearch or OpenSearch (or anything speaking the bulk API, such as
// VictoriaLogs) through the _bulk endpoint, one document per record in an
// index named from a date pattern.
//
// A bulk answer can accept some documents and refuse others; Deliver reports
// that as a sinks.PartialError so that only the documents refused for a
// retryable reason (429, 5xx) are sent again and the others (mapping errors)
// go to the dead-letter file. It must not retry or buffer by itself.
package elasticsearch
