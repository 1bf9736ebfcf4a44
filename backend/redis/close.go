package redisbackend

import (
	"context"
	"fmt"
	"io"

	"github.com/fila-go/fila/backend"
)

// Ping implements backend.Backend.
func (b *Backend) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return backend.ErrClosed
	}
	if err := b.ping(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close implements backend.Backend: it ends blocked calls and closes the
// backend's own blocking connections. The client passed to New stays open.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.done)
	if c, ok := b.conn.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
