package config

// integrationSchemas are the destination keys of each notification type.
var integrationSchemas = map[string]*rawKey{
	"slack": {kind: rawObject, oneOf: [][]string{{"token", "webhookURL"}}, keys: []rawKey{
		{name: "token", secret: true, with: []string{"channel"}},
		{name: "channel"},
		{name: "webhookURL", kind: rawURL, secret: true},
		{name: "apiURL", kind: rawURL},
		{name: "username"},
	}},
	"discord": {kind: rawObject, keys: []rawKey{
		{name: "webhookURL", kind: rawURL, secret: true, required: true},
		{name: "username"},
		{name: "avatarURL", kind: rawURL},
	}},
	"webhook": {kind: rawObject, keys: []rawKey{
		keyURL,
		{name: "secret", secret: true},
		keyHeaders, keyTimeout,
	}},
	"alertmanager": {kind: rawObject, keys: []rawKey{
		keyURL, keyAuth, keyTLS, keyTimeout,
	}},
	"teams": {kind: rawObject, keys: []rawKey{
		{name: "webhookURL", kind: rawURL, secret: true, required: true},
		keyTimeout,
	}},
	"pagerduty": {kind: rawObject, keys: []rawKey{
		{name: "routingKey", secret: true, required: true},
		{name: "url", kind: rawURL},
	}},
}

// IntegrationTypes lists the notification integration types config accepts, sorted.
func IntegrationTypes() []string { return sortedKeys(integrationSchemas) }
