package fakegraph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve answers on ln until ctx ends, then releases held calls, shuts the
// HTTP server down and returns. It is how programs (the demo, the load
// generator) host the fake outside tests; Close is still the caller's.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("fakegraph: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.Release()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("fakegraph: shut down server on %s: %w", ln.Addr(), err)
	}
	return nil
}
