package packaging

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// WriteLayout writes the index as an OCI image layout in dir, replacing what
// was there. `crane push --index DIR REF`, skopeo and regctl push such a
// directory; so does `build/package push`.
func WriteLayout(dir string, idx v1.ImageIndex) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("image layout %s: %w", dir, err)
	}
	if _, err := layout.Write(dir, idx); err != nil {
		return fmt.Errorf("image layout %s: %w", dir, err)
	}
	return nil
}

// ReadLayout reads the image index WriteLayout wrote.
func ReadLayout(dir string) (v1.ImageIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("image layout %s: %w", dir, err)
	}
	// layout.Write made the layout's index.json the image index itself.
	return p.ImageIndex()
}

// Push uploads the index and its images to ref (registry/repository:tag),
// with the credentials of ~/.docker/config.json when there are any.
func Push(ref string, idx v1.ImageIndex, opts ...name.Option) error {
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if err := remote.WriteIndex(r, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("push %s: %w", r, err)
	}
	return nil
}
