package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/upstash"
)

// openUpstash returns the backend over the target's Upstash REST endpoint
// after one PING has checked the URL and token. Its job bucket count is
// upstash.DefaultJobBuckets unless -job-buckets says otherwise.
func openUpstash(ctx context.Context, t storeTarget) (backend.Backend, func() error, error) {
	conn, err := upstash.NewConn(upstash.Config{URL: t.url, Token: t.token, GlobalLock: t.globalLock})
	if err != nil {
		return nil, nil, fmt.Errorf("fila: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		hint := ""
		if errors.Is(err, upstash.ErrUnauthorized) {
			hint = fmt.Sprintf(": the endpoint refused the token in $%s", upstash.EnvToken)
		}
		return nil, nil, fmt.Errorf("fila: connect to Upstash REST endpoint %s: %w%s", redactURL(t.url), err, hint)
	}
	be := upstash.NewBackend(conn, t.options()...)
	return be, be.Close, nil
}

// redactWriter writes through to w with every occurrence of secret
// replaced, so that no error or log line shows the Upstash token, whatever
// a server or library put in it.
type redactWriter struct {
	w      io.Writer
	secret []byte
}

func (r redactWriter) Write(p []byte) (int, error) {
	if _, err := r.w.Write(bytes.ReplaceAll(p, r.secret, []byte("xxxxx"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
