package cloudapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// SignatureHeader is the header Meta signs every webhook POST with:
// "sha256=" and the lowercase hex HMAC-SHA256 of the raw body, keyed with
// the app secret.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Signature errors, matched with errors.Is.
var (
	// ErrNoSignature: the request has no X-Hub-Signature-256 header.
	ErrNoSignature = errors.New("cloudapi: no " + SignatureHeader + " header")
	// ErrBadSignature: the header is malformed or does not match the body.
	ErrBadSignature = errors.New("cloudapi: " + SignatureHeader + " does not match the body")
)

// Sign returns the X-Hub-Signature-256 value of body under secret.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks an X-Hub-Signature-256 header value against the
// raw request body (never a re-encoding of it: Meta escapes non-ASCII
// characters, so re-serialized JSON does not match). The comparison runs
// in constant time once the decoded length is checked.
func VerifySignature(header string, body []byte, secret string) error {
	if header == "" {
		return ErrNoSignature
	}
	hexSum, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(hexSum) != 2*sha256.Size {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}
