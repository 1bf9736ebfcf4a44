package memory_test

import (
	"testing"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	"github.com/fila-go/fila/backend/memory"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return memory.New() })
}
