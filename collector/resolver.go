package collector

import "github.com/opshub/opshub/model"

// Resolver maps a log file's Source to the service it belongs to and the
// labels its records carry.
//
// Callers may rely on: Resolve is called once when a file is opened (and
// again, at most every few seconds, while it reports false), never per line;
// it must not block on the network. On a single machine the local runtime's
// services answer it; on Kubernetes an informer over the node's pods
// (spec.nodeName field selector) will, keeping a deleted pod's metadata
// until its files are drained. Labels returned are shared by every record of
// the file and must not be changed afterwards.
type Resolver interface {
	Resolve(src Source) (ref model.Ref, labels model.Labels, ok bool)
}

// pathRef is the enrichment the path alone gives: project from the
// namespace, instance from the pod, container, and (the local runtime's
// rule: a container is named after its service) the service from the
// container name.
func pathRef(src Source) model.Ref {
	return model.Ref{Project: src.Namespace, Service: src.Container, Instance: src.Pod, Container: src.Container}
}

// resolve asks r, falling back to the path.
func resolve(r Resolver, src Source) (model.Ref, model.Labels, bool) {
	if r != nil {
		if ref, labels, ok := r.Resolve(src); ok {
			return ref, labels, true
		}
		return pathRef(src), nil, false
	}
	return pathRef(src), nil, true
}
