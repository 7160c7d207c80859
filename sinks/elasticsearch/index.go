package elasticsearch

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// indexPattern names the index of a record from its time.
type indexPattern struct {
	parts []indexPart
	// The last hour seen and its name: records of a batch mostly share it.
	lastHour int64
	lastName []byte
}

// indexPart is literal text, or a date field when verb is not zero.
type indexPart struct {
	text string
	verb byte // Y, m, d or H
}

func parseIndexPattern(p string) (*indexPattern, error) {
	ip := &indexPattern{lastHour: math.MinInt64}
	lit := []byte{}
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			lit = append(lit, p[i])
			continue
		}
		if i+1 == len(p) {
			return nil, fmt.Errorf("%q ends with a lone %%", p)
		}
		i++
		switch v := p[i]; v {
		case '%':
			lit = append(lit, '%')
		case 'Y', 'm', 'd', 'H':
			if len(lit) > 0 {
				ip.parts = append(ip.parts, indexPart{text: string(lit)})
				lit = lit[:0]
			}
			ip.parts = append(ip.parts, indexPart{verb: v})
		default:
			return nil, fmt.Errorf("%q: unknown %%%c (known: %%Y, %%m, %%d, %%H, %%%%)", p, v)
		}
	}
	if len(lit) > 0 {
		ip.parts = append(ip.parts, indexPart{text: string(lit)})
	}
	if len(ip.parts) == 0 {
		return nil, fmt.Errorf("must not be empty")
	}
	return ip, nil
}

// name returns the index for time t in UTC. The result is valid until the
// next call.
func (ip *indexPattern) name(t time.Time) []byte {
	t = t.UTC()
	hour := t.Truncate(time.Hour).Unix()
	if hour == ip.lastHour {
		return ip.lastName
	}
	b := ip.lastName[:0]
	for _, p := range ip.parts {
		switch p.verb {
		case 0:
			b = append(b, p.text...)
		case 'Y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 'm':
			b = appendTwo(b, int(t.Month()))
		case 'd':
			b = appendTwo(b, t.Day())
		case 'H':
			b = appendTwo(b, t.Hour())
		}
	}
	ip.lastHour, ip.lastName = hour, b
	return b
}

func appendTwo(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}
