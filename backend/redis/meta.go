package redisbackend

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Job metadata is one more option of the record (see codec.go), written
// last and only when the job has some, so a job without metadata stores no
// extra byte:
//
//	m=<key>=<value>&<key>=<value>
//
// keys sorted, each key and value query-escaped (url.QueryEscape), so the
// value holds no ';' (the option separator, which lib_jobs.lua's fail_retention
// also matches on) and no '&' or '=' of its own.

// appendMeta appends the "m=" option for a non-empty map.
func appendMeta(b []byte, meta map[string]string) []byte {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, "m="...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, url.QueryEscape(k)...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(meta[k])...)
	}
	return append(b, ';')
}

// decodeMeta parses appendMeta's value (after "m=").
func decodeMeta(s string) (map[string]string, error) {
	meta := make(map[string]string, strings.Count(s, "&")+1)
	for s != "" {
		pair, rest, _ := strings.Cut(s, "&")
		s = rest
		ek, ev, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, errors.New("metadata entry has no '='")
		}
		k, err1 := url.QueryUnescape(ek)
		v, err2 := url.QueryUnescape(ev)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		meta[k] = v
	}
	if len(meta) == 0 {
		return nil, errors.New("empty metadata")
	}
	return meta, nil
}
