// Package model holds the nouns every opshub package shares: references to
// projects, services, instances and containers, container status, and the
// records that flow between the platform, the collector, alerting and the API.
//
// It must stay free of behaviour beyond small helpers on these types, and it
// imports nothing but the standard library, so that every other package can
// depend on it without pulling in anything else.
package model
