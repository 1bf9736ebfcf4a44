package main

import (
	"fmt"
	"strings"
)

// queueNameChars are the characters of a queue name.
const queueNameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

// parseHashTags reads -hash-tags: comma-separated queue=tag pairs, the
// tags the application's redisbackend.WithHashTag gives its queues. A
// queue written with a trailing * stands for every queue whose name
// starts with the rest; an exact name wins over a pattern, and a longer
// pattern over a shorter one. A queue no pair names keeps its own slot.
func parseHashTags(spec string) (func(queue string) string, error) {
	exact := map[string]string{}
	type pattern struct{ prefix, tag string }
	var patterns []pattern
	for _, pair := range strings.Split(spec, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		q, tag, ok := strings.Cut(pair, "=")
		q, tag = strings.TrimSpace(q), strings.TrimSpace(tag)
		switch {
		case !ok || q == "" || tag == "":
			return nil, fmt.Errorf("-hash-tags: %q is not queue=tag", pair)
		case strings.TrimLeft(strings.TrimSuffix(q, "*"), queueNameChars) != "":
			return nil, fmt.Errorf("-hash-tags: %q is not a queue name (letters, digits, '.', '_' and '-'), or one followed by *", q)
		case strings.HasSuffix(q, "*"):
			patterns = append(patterns, pattern{strings.TrimSuffix(q, "*"), tag})
		default:
			if old, dup := exact[q]; dup && old != tag {
				return nil, fmt.Errorf("-hash-tags: queue %q has two tags, %q and %q", q, old, tag)
			}
			exact[q] = tag
		}
	}
	if len(exact) == 0 && len(patterns) == 0 {
		return nil, nil
	}
	return func(queue string) string {
		if tag, ok := exact[queue]; ok {
			return tag
		}
		best, tag := -1, ""
		for _, p := range patterns {
			if strings.HasPrefix(queue, p.prefix) && len(p.prefix) > best {
				best, tag = len(p.prefix), p.tag
			}
		}
		return tag
	}, nil
}
