// Package fakegraph is a fake of the WhatsApp Cloud API's Graph endpoints
// the example app calls: POST /<phone-number-id>/messages (send a text,
// mark a message read) and GET /<media-id> (look up a media URL), with an
// optional version prefix such as /v25.0.
//
// It records every call with its arrival time and answer, so tests can
// check what reached "Meta" and when; it answers scripted failures per
// call (5xx, 4xx, throughput errors, 429 with Retry-After); it can hold
// calls in flight to simulate a slow API or a process killed mid-request;
// and it can post sent, delivered and read status webhooks back to the
// app, signed like Meta's, so a demo shows the whole loop.
//
// A Server is an http.Handler: mount it in an httptest.Server in tests, or
// run it with Serve in the demo and the load generator.
package fakegraph
