package redisbackend_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

func TestConformanceMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := testClient(mr.Addr())
	t.Cleanup(func() { rdb.Close() })
	be := redisbackend.New(rdb)
	t.Cleanup(func() { be.Close() })
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}
