// Package packaging builds what users install: the multi-platform OCI image
// of opshub (on an empty base, without a container engine, through
// go-containerregistry) and the release archives with their checksums.
// It runs at build time only (build/package, `make image` and `make dist`);
// nothing in the product imports it.
package packaging
