package fila

import (
	"slices"
	"unicode/utf8"
)

// Job metadata bounds. Metadata is for small context that travels with a
// job (a trace context, a tenant, a request ID), not for payloads: Add
// rejects more entries or more bytes with a *ValidationError (ErrInvalid)
// and stores nothing.
const (
	// MaxMetaEntries is the most entries JobOptions.Meta may hold.
	MaxMetaEntries = 32
	// MaxMetaBytes bounds the sum of the lengths of every key and value.
	MaxMetaBytes = 4096
)

// validateMeta checks the bounds and that keys are text and values UTF-8.
// A nil or empty map costs nothing.
func validateMeta(meta map[string]string) error {
	if len(meta) == 0 {
		return nil
	}
	if len(meta) > MaxMetaEntries {
		return invalid("Meta", "has %d entries, limit %d (MaxMetaEntries)", len(meta), MaxMetaEntries)
	}
	keys := make([]string, 0, len(meta))
	size := 0
	for k, v := range meta {
		keys = append(keys, k)
		size += len(k) + len(v)
	}
	if size > MaxMetaBytes {
		return invalid("Meta", "is %d bytes (keys and values), limit %d (MaxMetaBytes)", size, MaxMetaBytes)
	}
	slices.Sort(keys) // the first bad key is the same on every call
	for _, k := range keys {
		if err := validateText("Meta key", k); err != nil {
			return err
		}
		if v := meta[k]; !utf8.ValidString(v) {
			return invalid("Meta["+k+"]", "%q is not valid UTF-8", v)
		}
	}
	return nil
}
