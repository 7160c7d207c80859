// Package continuous is continuous deployment: it polls container
// registries with the OCI distribution API (through go-containerregistry),
// resolves a tag, or the highest tag in a semver range, to a digest, and
// when the digest changes deploys image@digest to a service's container as
// a release triggered by continuous, or starts a flow with the image as its
// arguments. A digest whose release failed is not deployed again until the
// tag moves; a deploy by hand pauses a service until it is resumed. What it
// saw and did is kept in the store, so a restart or a new leader goes on
// from there.
//
// Releases are the release engine's (rolled out with the service's
// strategy, rolled back when they fail); this package only decides when to
// ask for one. It must not know the platform, the config file or the HTTP
// API: cmd's wiring hands it targets and small interfaces.
package continuous
