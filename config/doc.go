// Package config reads an opshub config file: the one YAML document that says
// where state lives, how the API listens, which platform runs the services,
// which workloads to supervise, and how logs, alerts, spend, autoscaling and
// releases behave.
//
// Load and Parse decode strictly (an unknown key is an error), expand ${VAR}
// from the environment on scalar values, read secrets from *File keys, make
// relative paths absolute, fill every unset field from Default, and validate
// the result. Every problem is reported at once, each with the line it is on,
// as an Errors value. `opshub check-config` and startup run exactly this code.
//
// What config must not do: it starts nothing, opens no sockets, creates no
// directories and writes no files; it only reads the config file and the secret
// files it names. It imports only the standard library, gopkg.in/yaml.v3 and
// model, so every other package may depend on it. It never prints a secret:
// Secret values render as "<secret>" in errors, in Redacted and under fmt.
//
// Destination-specific settings of sinks and notification integrations belong
// to the packages that implement those destinations. This package shape-checks
// them against a small table of known keys per type, so that a typo is caught
// before anything starts, and hands them over as a yaml.Node (Sink.Raw,
// Integration.Raw) for the destination package to decode into its own struct.
package config
