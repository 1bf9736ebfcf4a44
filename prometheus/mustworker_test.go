package filaprom_test

import (
	"testing"

	"github.com/fila-go/fila"
)

// mustWorker takes NewWorker's results and fails the test on an error:
// mustWorker(t)(fila.NewWorker(...)).
func mustWorker(t testing.TB) func(*fila.Worker, error) *fila.Worker {
	return func(w *fila.Worker, err error) *fila.Worker {
		t.Helper()
		if err != nil {
			t.Fatalf("NewWorker: %v", err)
		}
		return w
	}
}
