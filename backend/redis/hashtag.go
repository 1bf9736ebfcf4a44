package redisbackend

import "strings"

// hashTag returns the part of key that Redis Cluster (and go-redis' Ring)
// hash to place it: the text between its first '{' and the next '}' when
// that is not empty, or else the whole key. Keys with one tag live on one
// node.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}
