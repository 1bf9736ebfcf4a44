//go:build race

package upstash_test

// raceEnabled: the test binary runs under the race detector.
const raceEnabled = true
