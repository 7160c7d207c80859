package s3

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/gzip"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// object is one upload: the records of one project, service and day.
type object struct {
	key     string
	body    []byte
	indexes []int // of the records in the batch, in order
}

// groupKey is what puts records into the same object.
type groupKey struct {
	project, service, date string
}

// buildObjects groups records by project, service and UTC day, in order of
// first appearance, and renders each group as an object named at now.
func buildObjects(records []model.LogRecord, prefix string, appendRecord sinks.AppendFunc, gz bool, now time.Time) ([]object, error) {
	var keys []groupKey
	groups := map[groupKey][]int{}
	for i, r := range records {
		k := groupKey{project: orUnknown(r.Project), service: orUnknown(r.Service), date: r.Time.UTC().Format(time.DateOnly)}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	out := make([]object, 0, len(keys))
	var line []byte
	for _, k := range keys {
		var body []byte
		for _, i := range groups[k] {
			line = appendRecord(line[:0], records[i])
			body = append(body, line...)
			body = append(body, '\n')
		}
		name := objectKey(prefix, k, now, gz)
		if gz {
			var err error
			if body, err = gzipBytes(body); err != nil {
				return nil, err
			}
		}
		out = append(out, object{key: name, body: body, indexes: groups[k]})
	}
	return out, nil
}

// objectKey is <prefix><project>/<service>/date=YYYY-MM-DD/<unix>-<uuid>.log[.gz].
func objectKey(prefix string, k groupKey, now time.Time, gz bool) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(k.project)
	b.WriteByte('/')
	b.WriteString(k.service)
	b.WriteString("/date=")
	b.WriteString(k.date)
	b.WriteByte('/')
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteByte('-')
	b.WriteString(uuid.NewString())
	b.WriteString(".log")
	if gz {
		b.WriteString(".gz")
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "_unknown"
	}
	return s
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
