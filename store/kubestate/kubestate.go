// Package kubestate is a store.Replica that keeps the controller's state
// file in Secrets of the Kubernetes API, so that a newly elected controller
// starts from exactly what its predecessor committed.
//
// A snapshot (a whole bbolt file, mostly free pages) is compressed with
// zstd. When it fits in one Secret (ChunkSize) it is stored in the head
// Secret itself; otherwise in chunk Secrets named <name>-<generation>-<i>
// that the head names by generation and count. Chunks are written before
// the head and never rewritten, so a reader never sees a torn snapshot;
// chunks the head no longer names are deleted after the head moves on.
//
// Every write of the head carries the resourceVersion this replica last
// read or wrote, so when another controller (a second leader) wrote the
// state in between, Save fails with ErrConflict instead of overwriting it.
// That is the fencing that keeps two leaders from both delivering.
//
// client-go stays inside this package. It must not interpret the state: it
// moves bytes.
package kubestate

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opshub/opshub/store"
)

// DefaultName is the head Secret's name unless the controller picks another.
const DefaultName = "opshub-state"

// ChunkSize is the most compressed bytes one Secret holds. The API server
// refuses Secrets over 1 MiB; this leaves room for metadata.
const ChunkSize = 700 << 10

// maxStateBytes bounds what a snapshot may decompress to.
const maxStateBytes = 1 << 30

// Keys and annotations of the Secrets.
const (
	dataKey  = "state.zst" // the head's inline snapshot
	chunkKey = "chunk"     // a chunk Secret's part of the compressed snapshot

	annGeneration = "opshub.dev/state-generation" // committed generation; 0: nothing saved yet
	annChunks     = "opshub.dev/state-chunks"     // chunk Secrets of that generation; 0: inline
	annSHA256     = "opshub.dev/state-sha256"     // of the compressed snapshot
	annBytes      = "opshub.dev/state-bytes"      // size of the snapshot uncompressed
	annWriter     = "opshub.dev/state-writer"     // the replica that wrote it
	annPending    = "opshub.dev/state-pending"    // "<generation>/<chunks>" claimed by a chunked save in progress

	labelName      = "app.kubernetes.io/name"
	labelComponent = "app.kubernetes.io/component"
	labelStateOf   = "opshub.dev/state-of"
)

// ErrConflict is returned (wrapped) by Save when another controller wrote
// the state since this replica loaded or last saved it. The caller has lost
// the right to write: it must stop acting as the leader, and a new process
// must Load again before writing.
var ErrConflict = errors.New("another controller wrote the state")

// errCorrupt marks a stored snapshot that cannot be read; retrying does not
// help.
var errCorrupt = errors.New("stored state is corrupt")

// Replica keeps state snapshots in Secrets of one namespace. It is safe for
// concurrent use, though store.DB never runs two Saves at once.
type Replica struct {
	client    kubernetes.Interface
	namespace string
	name      string
	writer    string
	enc       *zstd.Encoder
	dec       *zstd.Decoder

	mu         sync.Mutex
	rv         string // the head's resourceVersion as last read or written; "" when there is none
	uid        types.UID
	generation int64    // the highest generation seen or used, committed or claimed
	current    []string // chunk Secrets of the committed generation
	stale      []string // chunk Secrets nobody needs, to delete after the next head write
}

var _ store.Replica = (*Replica)(nil)

// New returns a Replica whose head Secret is namespace/name (DefaultName
// when name is empty). It makes no API call. Load must run before the first
// Save: the resourceVersion it reads is what Save fences on.
func New(client kubernetes.Interface, namespace, name string) *Replica {
	if name == "" {
		name = DefaultName
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err) // only invalid options fail
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxStateBytes))
	if err != nil {
		panic(err)
	}
	return &Replica{client: client, namespace: namespace, name: name, writer: writerID(), enc: enc, dec: dec}
}

// writerID names this replica in the head it writes: the host (a pod's
// name) and a random suffix, so that a conflict says who wrote.
func writerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = cryptorand.Read(b)
	if host == "" {
		return hex.EncodeToString(b)
	}
	return host + "-" + hex.EncodeToString(b)
}

// Load reads the state the head names. It retries errors that may pass
// (timeouts, unavailable API, a chunk deleted under it by a writer moving
// on) with back-off until ctx ends.
func (r *Replica) Load(ctx context.Context) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []byte
	err := retry(ctx, func() error {
		var err error
		out, err = r.load(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("state secret %s/%s: load: %w", r.namespace, r.name, err)
	}
	return out, nil
}

func (r *Replica) load(ctx context.Context) ([]byte, error) {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	head, err := secrets.Get(ctx, r.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.rv, r.uid, r.generation, r.current, r.stale = "", "", 0, nil, nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h, err := parseHead(head)
	if err != nil {
		return nil, err
	}
	var z []byte
	switch {
	case h.generation == 0:
		// Only claimed, never committed.
	case h.chunks == 0:
		z = head.Data[dataKey]
	default:
		for _, name := range chunkNames(r.name, h.generation, h.chunks) {
			c, err := secrets.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				// NotFound: a writer committed a newer head and removed
				// this generation meanwhile; the retry reads the new head.
				return nil, fmt.Errorf("chunk %s: %w", name, err)
			}
			z = append(z, c.Data[chunkKey]...)
		}
	}
	r.adopt(head, h)
	if h.generation == 0 {
		return nil, nil
	}
	if sum := sha256.Sum256(z); hex.EncodeToString(sum[:]) != h.sha256 {
		return nil, fmt.Errorf("%w: generation %d: checksum mismatch", errCorrupt, h.generation)
	}
	out, err := r.dec.DecodeAll(z, make([]byte, 0, h.bytes))
	if err != nil {
		return nil, fmt.Errorf("%w: generation %d: decompress: %v", errCorrupt, h.generation, err)
	}
	if h.bytes > 0 && len(out) != h.bytes {
		return nil, fmt.Errorf("%w: generation %d: %d bytes, the head says %d", errCorrupt, h.generation, len(out), h.bytes)
	}
	return out, nil
}

// head is what the head Secret's annotations say.
type head struct {
	generation    int64
	chunks        int
	sha256        string
	bytes         int
	writer        string
	pendingGen    int64
	pendingChunks int
}

func parseHead(s *corev1.Secret) (head, error) {
	var h head
	a := s.Annotations
	var err error
	num := func(key string) int64 {
		v, ok := a[key]
		if !ok || err != nil {
			return 0
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			err = fmt.Errorf("%w: annotation %s: %q is not a count", errCorrupt, key, v)
		}
		return n
	}
	h.generation = num(annGeneration)
	h.chunks = int(num(annChunks))
	h.bytes = int(num(annBytes))
	h.sha256 = a[annSHA256]
	h.writer = a[annWriter]
	if p, ok := a[annPending]; ok && err == nil {
		g, c, found := strings.Cut(p, "/")
		pg, err1 := strconv.ParseInt(g, 10, 64)
		pc, err2 := strconv.Atoi(c)
		if !found || err1 != nil || err2 != nil || pg < 0 || pc < 0 {
			return h, fmt.Errorf("%w: annotation %s: %q is not <generation>/<chunks>", errCorrupt, annPending, p)
		}
		h.pendingGen, h.pendingChunks = pg, pc
	}
	return h, err
}

// adopt takes the head as the one this replica builds on.
func (r *Replica) adopt(s *corev1.Secret, h head) {
	r.rv, r.uid = s.ResourceVersion, s.UID
	r.generation = max(h.generation, h.pendingGen)
	r.current = chunkNames(r.name, h.generation, h.chunks)
	if h.pendingGen != 0 && h.pendingGen != h.generation {
		// A chunked save that never committed: its chunks go once this
		// replica has written the head (not before: the writer may still
		// be alive, and it is the head write that fences it off).
		r.stale = append(r.stale, chunkNames(r.name, h.pendingGen, h.pendingChunks)...)
	}
}

func chunkNames(name string, generation int64, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d-%d", name, generation, i)
	}
	return out
}

// Save stores snapshot as the next generation. It fails with ErrConflict
// when another writer moved the head since this replica's Load or last
// Save, and retries other errors that may pass until ctx ends.
func (r *Replica) Save(ctx context.Context, snapshot []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	z := r.enc.EncodeAll(snapshot, make([]byte, 0, len(snapshot)/8))
	sum := sha256.Sum256(z)
	err := retry(ctx, func() error { return r.save(ctx, z, hex.EncodeToString(sum[:]), len(snapshot)) })
	if err != nil {
		return fmt.Errorf("state secret %s/%s: save: %w", r.namespace, r.name, err)
	}
	return nil
}

func (r *Replica) save(ctx context.Context, z []byte, sum string, size int) (err error) {
	gen := r.generation + 1
	h := head{generation: gen, sha256: sum, bytes: size, writer: r.writer}
	var names []string
	if len(z) > ChunkSize {
		h.chunks = (len(z) + ChunkSize - 1) / ChunkSize
		names = chunkNames(r.name, gen, h.chunks)
		// Claim the generation on the head first: the claim is fenced like
		// any head write, so two writers never write the same chunk names,
		// and a writer that dies after this point leaves a record of what
		// to clean up.
		if err := r.claim(ctx, gen, h.chunks); err != nil {
			return err
		}
		r.generation = gen
		defer func() {
			if err != nil {
				// A retry claims a new generation; these go once a head
				// write succeeds.
				r.stale = append(r.stale, names...)
			}
		}()
		for i, name := range names {
			part := z[i*ChunkSize : min((i+1)*ChunkSize, len(z))]
			if err := r.writeChunk(ctx, name, part); err != nil {
				return err
			}
		}
	}
	s := r.secret(r.name)
	s.Annotations = map[string]string{
		annGeneration: strconv.FormatInt(gen, 10),
		annChunks:     strconv.Itoa(h.chunks),
		annSHA256:     sum,
		annBytes:      strconv.Itoa(size),
		annWriter:     r.writer,
	}
	if h.chunks == 0 {
		s.Data = map[string][]byte{dataKey: z}
	}
	if err := r.writeHead(ctx, s); err != nil {
		return err
	}
	r.stale = append(r.stale, r.current...)
	r.current = names
	r.generation = gen
	r.deleteStale(ctx)
	return nil
}

// secret returns an empty Secret called name with the labels every state
// Secret carries.
func (r *Replica) secret(name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: r.namespace,
			Labels: map[string]string{
				labelName:      "opshub",
				labelComponent: "controller-state",
				labelStateOf:   r.name,
			},
		},
		Type: corev1.SecretTypeOpaque,
	}
}

// claim records on the head that generation gen is being written in n
// chunks.
func (r *Replica) claim(ctx context.Context, gen int64, n int) error {
	pending := fmt.Sprintf("%d/%d", gen, n)
	secrets := r.client.CoreV1().Secrets(r.namespace)
	if r.rv == "" {
		s := r.secret(r.name)
		s.Annotations = map[string]string{annGeneration: "0", annWriter: r.writer, annPending: pending}
		return r.writeHead(ctx, s)
	}
	// A merge patch that names the resourceVersion is refused with a
	// conflict when the head moved, like an update.
	patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q,"annotations":{%q:%q,%q:%q}}}`,
		r.rv, annPending, pending, annWriter, r.writer)
	s, err := secrets.Patch(ctx, r.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "opshub"})
	if err != nil {
		return r.headError(ctx, err)
	}
	r.rv, r.uid = s.ResourceVersion, s.UID
	return nil
}

// writeHead creates or updates the head from r.rv, fenced on it.
func (r *Replica) writeHead(ctx context.Context, s *corev1.Secret) error {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	var out *corev1.Secret
	var err error
	if r.rv == "" {
		out, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "opshub"})
	} else {
		s.ResourceVersion = r.rv
		s.UID = r.uid
		out, err = secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: "opshub"})
	}
	if err != nil {
		return r.headError(ctx, err)
	}
	r.rv, r.uid = out.ResourceVersion, out.UID
	return nil
}

// headError turns a refused head write into ErrConflict, unless the head
// that is there was written by this very replica (an earlier request that
// timed out on the way back but was applied): then it adopts that head and
// the retry writes on top of it.
func (r *Replica) headError(ctx context.Context, err error) error {
	if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && !(apierrors.IsNotFound(err) && r.rv != "") {
		return err
	}
	cur, gerr := r.client.CoreV1().Secrets(r.namespace).Get(ctx, r.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(gerr):
		return fmt.Errorf("%w: the head was deleted after resourceVersion %s (%v)", ErrConflict, r.rv, err)
	case gerr != nil:
		return fmt.Errorf("%v; reading the head to check who wrote it: %w", err, gerr)
	}
	h, perr := parseHead(cur)
	if perr == nil && h.writer == r.writer {
		r.adopt(cur, h)
		return errRetryNow
	}
	who := h.writer
	if who == "" {
		who = "unknown"
	}
	return fmt.Errorf("%w (writer %s, generation %d, resourceVersion %s; this controller built on resourceVersion %s): stop acting as the leader",
		ErrConflict, who, h.generation, cur.ResourceVersion, r.rv)
}

// writeChunk creates one chunk Secret; a leftover of the same name (names
// are claimed before use, so it can only be this replica's own) is
// overwritten.
func (r *Replica) writeChunk(ctx context.Context, name string, part []byte) error {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	s := r.secret(name)
	s.Data = map[string][]byte{chunkKey: part}
	_, err := secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "opshub"})
	if apierrors.IsAlreadyExists(err) {
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: "opshub"})
	}
	if err != nil {
		return fmt.Errorf("chunk %s: %w", name, err)
	}
	return nil
}

// deleteStale removes chunk Secrets the head no longer names. Failures are
// kept for the next Save: a leftover costs space, never correctness.
func (r *Replica) deleteStale(ctx context.Context) {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	keep := r.stale[:0]
	for _, name := range r.stale {
		err := secrets.Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			keep = append(keep, name)
		}
	}
	r.stale = keep
}

// errRetryNow asks retry for another attempt without waiting.
var errRetryNow = errors.New("retry now")

// retry runs op until it succeeds, fails for good, or ctx ends, backing off
// exponentially with jitter between attempts.
func retry(ctx context.Context, op func() error) error {
	delay := 100 * time.Millisecond
	for adoptions := 0; ; {
		err := op()
		if err == nil {
			return nil
		}
		if errors.Is(err, errRetryNow) {
			if adoptions++; adoptions > 3 {
				return errors.New("the head keeps changing under this writer")
			}
			continue
		}
		if permanent(err) {
			return err
		}
		wait := delay/2 + rand.N(delay)
		delay = min(2*delay, 10*time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// permanent reports whether retrying err cannot help.
func permanent(err error) bool {
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, errCorrupt),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsInvalid(err),
		apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err),
		apierrors.IsMethodNotSupported(err), apierrors.IsNotAcceptable(err), apierrors.IsUnsupportedMediaType(err):
		return true
	}
	return false
}

// compressedSize is the size Save would store for snapshot; for tests and
// benchmarks.
func (r *Replica) compressedSize(snapshot []byte) int {
	return len(r.enc.EncodeAll(snapshot, nil))
}
