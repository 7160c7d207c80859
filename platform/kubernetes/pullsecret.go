package kubernetes

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DockerConfig returns the registry credentials of an image pull Secret:
// the .dockerconfigjson of a kubernetes.io/dockerconfigjson Secret, or the
// .dockercfg of the older kubernetes.io/dockercfg. It is read from the API
// server each time (no Secret is cached or watched), so the controller
// needs only get on that Secret.
func (p *Platform) DockerConfig(ctx context.Context, namespace, name string) ([]byte, error) {
	s, err := p.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("secret %s/%s not found", namespace, name)
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("secret %s/%s: the controller may not read it (grant get on it: see docs/releases.md)", namespace, name)
	case err != nil:
		return nil, err
	}
	if b, ok := s.Data[corev1.DockerConfigJsonKey]; ok {
		return b, nil
	}
	if b, ok := s.Data[corev1.DockerConfigKey]; ok {
		return b, nil
	}
	return nil, errors.New("secret " + namespace + "/" + name + " is no image pull Secret: it has neither .dockerconfigjson nor .dockercfg")
}
