// Package kubestate is a store.Replica that keeps the controller's state
// in Secrets of the Kubernetes API, so that a newly elected controller
// starts from exactly what its predecessor committed.
//
// The state is a checkpoint (a whole bbolt file, compressed with zstd) and
// a log of the records committed after it. The log lives in the head
// Secret <name>, one data key log-<seq> a record, each compressed on its
// own, so that a committed write costs one update of the head. A
// checkpoint small enough (InlineSize) sits in the head too; a larger one
// in chunk Secrets <name>-1 ... <name>-64 (MaxChunks), a fixed set of
// names so that RBAC can grant get, update and delete by name. The head
// names the checkpoint's generation, the chunks that hold it and the last
// record it holds. A new generation is written into chunks the current
// head does not name, and the head (which then drops the records the new
// checkpoint holds) is written last, so a reader never sees a torn state;
// chunks the head no longer names are deleted after it moved on. Appends
// go on while a checkpoint's chunks are written.
//
// Every write of the head carries the resourceVersion this replica last
// read or wrote, so when another controller (a second leader) wrote the
// state in between, Append and Checkpoint fail with ErrConflict instead of
// overwriting it. That is the fencing that keeps two leaders from both
// delivering. A chunked checkpoint first claims its chunks on the head with
// such a write, so two writers never share a chunk.
//
// client-go stays inside this package. It must not interpret the state: it
// moves bytes.
package kubestate

import (
	"cmp"
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opshub/opshub/store"
)

// DefaultName is the head Secret's name unless the controller picks another.
const DefaultName = "opshub-state"

// ChunkSize is the most compressed bytes one chunk Secret holds. The API
// server refuses Secrets over 1 MiB; this leaves room for metadata.
const ChunkSize = 700 << 10

// MaxChunks is how many chunk Secrets exist at most (<name>-1 ...
// <name>-64). A new generation must fit beside the current one, so a
// checkpoint may take up to 32 chunks (22 MiB compressed) in the steady
// state.
const MaxChunks = 64

// InlineSize is the largest compressed checkpoint kept in the head itself,
// beside the log.
const InlineSize = 128 << 10

// HeadSize bounds the head's data (the inline checkpoint and the log): an
// Append that would pass it fails with store.ErrLogFull, and the store
// checkpoints instead. The API server refuses Secrets over 1 MiB of data.
const HeadSize = 960 << 10

// maxStateBytes bounds what a checkpoint or a record may decompress to.
const maxStateBytes = 1 << 30

// Keys and annotations of the Secrets.
const (
	dataKey   = "state.zst" // the head's inline checkpoint
	chunkKey  = "chunk"     // a chunk Secret's part of the compressed checkpoint
	logPrefix = "log-"      // the head's log records: log-<seq>, each compressed

	annGeneration = "opshub.dev/state-generation" // committed generation (0: no checkpoint yet); on a chunk: the generation it belongs to
	annChunks     = "opshub.dev/state-chunks"     // the chunks of that generation in order, "3,4,5"; empty: inline
	annSHA256     = "opshub.dev/state-sha256"     // of the compressed checkpoint
	annBytes      = "opshub.dev/state-bytes"      // size of the checkpoint uncompressed
	annThrough    = "opshub.dev/state-through"    // the Seq of the last record the checkpoint holds
	annWriter     = "opshub.dev/state-writer"     // the replica that wrote the head
	annPending    = "opshub.dev/state-pending"    // "<generation>:<chunks>" claimed by a chunked checkpoint in progress

	labelName      = "app.kubernetes.io/name"
	labelComponent = "app.kubernetes.io/component"
	labelStateOf   = "opshub.dev/state-of"

	fieldManager = "opshub"
)

// ErrConflict is returned (wrapped) by Append and Checkpoint when another
// controller wrote the state since this replica loaded or last wrote it.
// The caller has lost the right to write: it must stop acting as the
// leader, and a new process must Load again before writing.
var ErrConflict = errors.New("another controller wrote the state")

// ErrTooLarge is returned (wrapped) by Checkpoint when the compressed
// checkpoint needs more chunk Secrets than are free beside the current
// generation.
var ErrTooLarge = errors.New("state checkpoint too large for the state Secrets")

// errCorrupt marks a stored state that cannot be read; retrying does not
// help.
var errCorrupt = errors.New("stored state is corrupt")

// Replica keeps the state in Secrets of one namespace. It is safe for
// concurrent use; Appends may run while a Checkpoint writes its chunks.
type Replica struct {
	client    kubernetes.Interface
	namespace string
	name      string
	writer    string
	enc       *zstd.Encoder
	dec       *zstd.Decoder

	// ckMu serializes Checkpoints (and Load): it guards the chunk
	// bookkeeping below.
	ckMu       sync.Mutex
	generation int            // the highest generation seen or used, committed or claimed
	current    []int          // chunks of the committed generation
	stale      []int          // chunks nobody needs, to delete after the next head write
	chunkRV    map[int]string // resourceVersions of chunks this replica read or wrote

	// mu guards the head as last read or written (nil when there is
	// none); every head write holds it.
	mu   sync.Mutex
	last *corev1.Secret
}

var _ store.Replica = (*Replica)(nil)

// New returns a Replica whose head Secret is namespace/name (DefaultName
// when name is empty). It makes no API call. Load must run before the first
// Append or Checkpoint: the resourceVersion it reads is what they fence on.
func New(client kubernetes.Interface, namespace, name string) *Replica {
	if name == "" {
		name = DefaultName
	}
	// The fastest level: on state files of tens of MB it compresses as
	// well as the default (JSON with ids and log lines) in a third of the
	// time, and a checkpoint compresses the whole file.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
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

func (r *Replica) chunkName(i int) string { return fmt.Sprintf("%s-%d", r.name, i) }

// Load reads the checkpoint the head names and the log records after it.
// It retries errors that may pass (timeouts, an unavailable API, a chunk
// rewritten under it by a writer moving on) with back-off until ctx ends.
func (r *Replica) Load(ctx context.Context) (store.Loaded, error) {
	r.ckMu.Lock()
	defer r.ckMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out store.Loaded
	err := retry(ctx, func() error {
		var err error
		out, err = r.load(ctx)
		return err
	})
	if err != nil {
		return store.Loaded{}, fmt.Errorf("state secret %s/%s: load: %w", r.namespace, r.name, err)
	}
	return out, nil
}

// errMoved is a chunk that belongs to another generation than the head
// that was read: a writer committed meanwhile, so reading again helps.
var errMoved = errors.New("the head moved while its chunks were read")

func (r *Replica) load(ctx context.Context) (store.Loaded, error) {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	s, err := secrets.Get(ctx, r.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.last, r.generation, r.current, r.stale, r.chunkRV = nil, 0, nil, nil, map[int]string{}
		// A predecessor may have died between its first chunk and its
		// first head: those chunks go after this replica's first write.
		r.stale = allChunks()
		return store.Loaded{}, nil
	}
	if err != nil {
		return store.Loaded{}, err
	}
	h, err := parseHead(s)
	if err != nil {
		return store.Loaded{}, err
	}
	var z []byte
	r.chunkRV = map[int]string{}
	switch {
	case h.generation == 0:
		// No checkpoint yet: only a log, or only claimed.
	case len(h.chunks) == 0:
		z = s.Data[dataKey]
	default:
		for _, i := range h.chunks {
			c, err := secrets.Get(ctx, r.chunkName(i), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return store.Loaded{}, fmt.Errorf("chunk %s: %w", r.chunkName(i), errMoved)
			}
			if err != nil {
				return store.Loaded{}, fmt.Errorf("chunk %s: %w", r.chunkName(i), err)
			}
			if g := c.Annotations[annGeneration]; g != strconv.Itoa(h.generation) {
				return store.Loaded{}, fmt.Errorf("chunk %s holds generation %s, the head names %d: %w", c.Name, g, h.generation, errMoved)
			}
			z = append(z, c.Data[chunkKey]...)
			r.chunkRV[i] = c.ResourceVersion
		}
	}
	r.adopt(s, h)
	// Whatever chunks the head does not name are leftovers: delete them
	// after this replica's first head write (not before: their writer may
	// still be alive, and it is that write which fences it off).
	r.stale = slices.DeleteFunc(allChunks(), func(i int) bool { return slices.Contains(h.chunks, i) })
	var out store.Loaded
	if h.generation > 0 {
		if sum := sha256.Sum256(z); hex.EncodeToString(sum[:]) != h.sha256 {
			return store.Loaded{}, fmt.Errorf("%w: generation %d: checksum mismatch", errCorrupt, h.generation)
		}
		out.Snapshot, err = r.dec.DecodeAll(z, make([]byte, 0, h.bytes))
		if err != nil {
			return store.Loaded{}, fmt.Errorf("%w: generation %d: decompress: %v", errCorrupt, h.generation, err)
		}
		if h.bytes > 0 && len(out.Snapshot) != h.bytes {
			return store.Loaded{}, fmt.Errorf("%w: generation %d: %d bytes, the head says %d", errCorrupt, h.generation, len(out.Snapshot), h.bytes)
		}
	}
	for _, l := range logOf(s) {
		if l.seq <= h.through {
			continue // dropped by the next head write
		}
		data, err := r.dec.DecodeAll(s.Data[l.key], nil)
		if err != nil {
			return store.Loaded{}, fmt.Errorf("%w: log record %s: decompress: %v", errCorrupt, l.key, err)
		}
		out.Log = append(out.Log, store.Record{Seq: l.seq, Data: data})
		out.LogBytes += len(s.Data[l.key])
	}
	return out, nil
}

// logKey is one record in the head's data.
type logKey struct {
	key string
	seq uint64
}

// logOf returns the head's log records in Seq order. Keys that are not
// log-<seq> are not records.
func logOf(s *corev1.Secret) []logKey {
	var out []logKey
	for k := range s.Data {
		n, ok := strings.CutPrefix(k, logPrefix)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(n, 10, 64)
		if err != nil || seq == 0 {
			continue
		}
		out = append(out, logKey{key: k, seq: seq})
	}
	slices.SortFunc(out, func(a, b logKey) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

func logKeyOf(seq uint64) string { return logPrefix + strconv.FormatUint(seq, 10) }

// dataSize is what the Secret's data takes, as the API server counts it.
func dataSize(s *corev1.Secret) int {
	n := 0
	for _, v := range s.Data {
		n += len(v)
	}
	return n
}

// logSize is what the head's log takes.
func logSize(s *corev1.Secret) int {
	n := 0
	for k, v := range s.Data {
		if strings.HasPrefix(k, logPrefix) {
			n += len(v)
		}
	}
	return n
}

func allChunks() []int {
	out := make([]int, MaxChunks)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// head is what the head Secret's annotations say.
type head struct {
	generation    int
	chunks        []int
	sha256        string
	bytes         int
	through       uint64
	writer        string
	pendingGen    int
	pendingChunks []int
}

func parseHead(s *corev1.Secret) (head, error) {
	a := s.Annotations
	h := head{sha256: a[annSHA256], writer: a[annWriter]}
	var errs []error
	num := func(key string) int {
		v, ok := a[key]
		if !ok {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("annotation %s: %q is not a count", key, v))
		}
		return n
	}
	list := func(key, v string) []int {
		var out []int
		for f := range strings.SplitSeq(v, ",") {
			if f == "" {
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 || n > MaxChunks {
				errs = append(errs, fmt.Errorf("annotation %s: %q is not a chunk number 1-%d", key, f, MaxChunks))
			}
			out = append(out, n)
		}
		return out
	}
	h.generation = num(annGeneration)
	h.bytes = num(annBytes)
	h.chunks = list(annChunks, a[annChunks])
	if v, ok := a[annThrough]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("annotation %s: %q is not a record number", annThrough, v))
		}
		h.through = n
	}
	if p, ok := a[annPending]; ok {
		g, c, found := strings.Cut(p, ":")
		n, err := strconv.Atoi(g)
		if !found || err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("annotation %s: %q is not <generation>:<chunks>", annPending, p))
		}
		h.pendingGen, h.pendingChunks = n, list(annPending, c)
	}
	if err := errors.Join(errs...); err != nil {
		return h, fmt.Errorf("%w: head %s: %w", errCorrupt, s.Name, err)
	}
	return h, nil
}

func formatChunks(chunks []int) string {
	f := make([]string, len(chunks))
	for i, c := range chunks {
		f[i] = strconv.Itoa(c)
	}
	return strings.Join(f, ",")
}

// adopt takes the head as the one this replica builds on. r.mu and r.ckMu
// must be held.
func (r *Replica) adopt(s *corev1.Secret, h head) {
	r.last = s
	r.generation = max(r.generation, h.generation, h.pendingGen)
	r.current = h.chunks
}

// sync takes the chunks and generation from the head as last read or
// written: an earlier attempt's head write may have been applied although
// its answer was lost (see headError). r.ckMu must be held.
func (r *Replica) sync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		return
	}
	h, err := parseHead(r.last)
	if err != nil {
		return
	}
	if !slices.Equal(h.chunks, r.current) {
		r.stale = append(r.stale, r.current...)
	}
	r.adopt(r.last, h)
}

// Append adds records to the head's log in one fenced update. Records the
// head already holds (or its checkpoint does) are skipped. It fails with
// ErrConflict when another writer moved the head since this replica's
// Load or last write, with store.ErrLogFull when the head has no room for
// them, and retries other errors that may pass until ctx ends.
func (r *Replica) Append(ctx context.Context, records []store.Record) (int, error) {
	zs := make([][]byte, len(records))
	for i, rec := range records {
		zs[i] = r.enc.EncodeAll(rec.Data, make([]byte, 0, len(rec.Data)/2+64))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var size int
	err := retry(ctx, func() error {
		var err error
		size, err = r.append(ctx, records, zs)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("state secret %s/%s: append records %d-%d: %w", r.namespace, r.name, records[0].Seq, records[len(records)-1].Seq, err)
	}
	return size, nil
}

func (r *Replica) append(ctx context.Context, records []store.Record, zs [][]byte) (int, error) {
	var s *corev1.Secret
	last := uint64(0)
	if r.last == nil {
		s = r.secret(r.name)
		s.Annotations = map[string]string{annGeneration: "0"}
	} else {
		s = r.last.DeepCopy()
		h, err := parseHead(s)
		if err != nil {
			return 0, err
		}
		last = h.through
		if l := logOf(s); len(l) > 0 {
			last = max(last, l[len(l)-1].seq)
		}
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	added := 0
	for i, rec := range records {
		if rec.Seq <= last {
			continue
		}
		if rec.Seq != last+1 {
			return 0, fmt.Errorf("%w: record %d does not follow record %d", errCorrupt, rec.Seq, last)
		}
		last = rec.Seq
		s.Data[logKeyOf(rec.Seq)] = zs[i]
		added += len(zs[i])
	}
	if added == 0 {
		return logSize(s), nil
	}
	// The log leaves room for an inline checkpoint beside it.
	if n, l := dataSize(s), logSize(s); n > HeadSize || l > HeadSize-InlineSize {
		return 0, fmt.Errorf("%w: %d bytes of records would make the log %d bytes and the head %d; the head holds %d, of which the log %d",
			store.ErrLogFull, added, l, n, HeadSize, HeadSize-InlineSize)
	}
	s.Annotations[annWriter] = r.writer
	if err := r.writeHead(ctx, s); err != nil {
		return 0, err
	}
	return logSize(r.last), nil
}

// Checkpoint stores snapshot as the next generation and drops the log
// records up to through. It fails with ErrConflict when another writer
// moved the head since this replica's Load or last write, with ErrTooLarge
// when the snapshot does not fit, and retries other errors that may pass
// until ctx ends. Appends go on while its chunks are written.
func (r *Replica) Checkpoint(ctx context.Context, snapshot []byte, through uint64) (int, error) {
	r.ckMu.Lock()
	defer r.ckMu.Unlock()
	z := r.enc.EncodeAll(snapshot, make([]byte, 0, len(snapshot)/8))
	sum := sha256.Sum256(z)
	var size int
	err := retry(ctx, func() error {
		var err error
		size, err = r.checkpoint(ctx, z, hex.EncodeToString(sum[:]), len(snapshot), through)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("state secret %s/%s: checkpoint: %w", r.namespace, r.name, err)
	}
	r.deleteStale(ctx)
	return size, nil
}

func (r *Replica) checkpoint(ctx context.Context, z []byte, sum string, size int, through uint64) (int, error) {
	r.sync()
	gen := r.generation + 1
	var chunks []int
	if len(z) > InlineSize {
		n := (len(z) + ChunkSize - 1) / ChunkSize
		for i := 1; i <= MaxChunks && len(chunks) < n; i++ {
			if !slices.Contains(r.current, i) {
				chunks = append(chunks, i)
			}
		}
		if len(chunks) < n {
			return 0, fmt.Errorf("%w: %d bytes compressed need %d Secrets of %d KiB, %d are free beside the current generation's %d",
				ErrTooLarge, len(z), n, ChunkSize>>10, MaxChunks-len(r.current), len(r.current))
		}
		// Claim the chunks on the head first: the claim is fenced like any
		// head write, so two writers never write the same chunk.
		if err := r.claim(ctx, gen, chunks); err != nil {
			return 0, err
		}
		r.generation = gen
		// Should this attempt fail, whichever of its chunks the next one
		// does not reuse are leftovers.
		r.stale = append(r.stale, chunks...)
		for k, i := range chunks {
			part := z[k*ChunkSize : min((k+1)*ChunkSize, len(z))]
			if err := r.writeChunk(ctx, i, gen, part); err != nil {
				return 0, err
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// The head as Appends left it while the chunks were written: its log
	// records after through stay.
	var s *corev1.Secret
	if r.last == nil {
		s = r.secret(r.name)
	} else {
		s = r.last.DeepCopy()
		if h, err := parseHead(s); err == nil && h.through > through {
			return 0, fmt.Errorf("checkpoint through record %d after one through %d", through, h.through)
		}
	}
	data := map[string][]byte{}
	for _, l := range logOf(s) {
		if l.seq > through {
			data[l.key] = s.Data[l.key]
		}
	}
	if len(chunks) == 0 {
		data[dataKey] = z
	}
	s.Data = data
	s.Annotations = map[string]string{
		annGeneration: strconv.Itoa(gen),
		annChunks:     formatChunks(chunks),
		annSHA256:     sum,
		annBytes:      strconv.Itoa(size),
		annThrough:    strconv.FormatUint(through, 10),
		annWriter:     r.writer,
	}
	if n := dataSize(s); n > HeadSize {
		return 0, fmt.Errorf("%w: the head would hold %d bytes", ErrTooLarge, n)
	}
	if err := r.writeHead(ctx, s); err != nil {
		return 0, err
	}
	r.stale = append(r.stale, r.current...)
	r.stale = slices.DeleteFunc(r.stale, func(i int) bool { return slices.Contains(chunks, i) })
	r.current = chunks
	r.generation = gen
	return logSize(r.last), nil
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

// claim records on the head that generation gen is being written into
// chunks, keeping everything else the head says.
func (r *Replica) claim(ctx context.Context, gen int, chunks []int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s *corev1.Secret
	if r.last == nil {
		s = r.secret(r.name)
		s.Annotations = map[string]string{annGeneration: "0"}
	} else {
		s = r.last.DeepCopy()
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[annPending] = strconv.Itoa(gen) + ":" + formatChunks(chunks)
	s.Annotations[annWriter] = r.writer
	return r.writeHead(ctx, s)
}

// writeHead creates the head, or updates it fenced on the resourceVersion
// of r.last. r.mu must be held.
func (r *Replica) writeHead(ctx context.Context, s *corev1.Secret) error {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	var out *corev1.Secret
	var err error
	if r.last == nil {
		out, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: fieldManager})
	} else {
		s.ResourceVersion = r.last.ResourceVersion
		s.UID = r.last.UID
		out, err = secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	if err != nil {
		return r.headError(ctx, err)
	}
	r.last = out
	return nil
}

// headError turns a refused head write into ErrConflict, unless the head
// that is there was written by this very replica (an earlier request that
// timed out on the way back but was applied): then it adopts that head and
// the retry writes on top of it.
func (r *Replica) headError(ctx context.Context, err error) error {
	if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && !(apierrors.IsNotFound(err) && r.last != nil) {
		return err
	}
	built := "nothing"
	if r.last != nil {
		built = "resourceVersion " + r.last.ResourceVersion
	}
	cur, gerr := r.client.CoreV1().Secrets(r.namespace).Get(ctx, r.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(gerr):
		return fmt.Errorf("%w: the head was deleted after this controller read %s (%v)", ErrConflict, built, err)
	case gerr != nil:
		return fmt.Errorf("%v; reading the head to see who wrote it: %w", err, gerr)
	}
	h, perr := parseHead(cur)
	if perr == nil && h.writer == r.writer {
		r.last = cur
		return errRetryNow
	}
	who := h.writer
	if who == "" {
		who = "unknown"
	}
	return fmt.Errorf("%w (writer %s, generation %d, resourceVersion %s) after this controller read %s: stop acting as the leader",
		ErrConflict, who, h.generation, cur.ResourceVersion, built)
}

// writeChunk writes part of generation gen into chunk i, creating it or
// overwriting what the head no longer names.
func (r *Replica) writeChunk(ctx context.Context, i, gen int, part []byte) error {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	s := r.secret(r.chunkName(i))
	s.Annotations = map[string]string{annGeneration: strconv.Itoa(gen)}
	s.Data = map[string][]byte{chunkKey: part}
	out, err := secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: fieldManager})
	if apierrors.IsAlreadyExists(err) {
		out, err = secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	if err != nil {
		return fmt.Errorf("chunk %s: %w", s.Name, err)
	}
	r.chunkRV[i] = out.ResourceVersion
	return nil
}

// deleteStale removes chunk Secrets the head no longer names. A delete
// names the chunk's resourceVersion, so it never removes a chunk that a
// writer which took over meanwhile has just written; a chunk of a
// generation newer than this replica's is left alone for the same reason.
// Failures are kept for the next checkpoint: a leftover costs space, never
// correctness.
func (r *Replica) deleteStale(ctx context.Context) {
	secrets := r.client.CoreV1().Secrets(r.namespace)
	var keep []int
	r.stale = slices.DeleteFunc(r.stale, func(i int) bool { return slices.Contains(r.current, i) })
	for _, i := range slices.Compact(slices.Sorted(slices.Values(r.stale))) {
		name := r.chunkName(i)
		rv, known := r.chunkRV[i]
		if !known {
			c, err := secrets.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				keep = append(keep, i)
				continue
			}
			if g, err := strconv.Atoi(c.Annotations[annGeneration]); err == nil && g > r.generation {
				continue
			}
			rv = c.ResourceVersion
		}
		err := secrets.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		switch {
		case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err):
			delete(r.chunkRV, i)
		default:
			keep = append(keep, i)
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
	case errors.Is(err, ErrConflict), errors.Is(err, ErrTooLarge), errors.Is(err, errCorrupt), errors.Is(err, store.ErrLogFull),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsInvalid(err),
		apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err),
		apierrors.IsMethodNotSupported(err), apierrors.IsNotAcceptable(err), apierrors.IsUnsupportedMediaType(err):
		return true
	}
	return false
}
