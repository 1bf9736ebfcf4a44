// Package cloudapi holds the parts of Meta's WhatsApp Cloud API the example
// app speaks: the webhook notification payload, the X-Hub-Signature-256
// signature, a small Graph API client (send a text, mark a message read,
// look up a media URL) and the Graph API error with the codes that decide
// whether a call is retried, rate limited or given up.
//
// It knows nothing about fila: the app turns these values into jobs and
// these errors into retry decisions. The fake Graph API (package fakegraph)
// and the load generator reuse the same types, so the three agree on the
// wire format by construction.
package cloudapi
