package dashboard_test

import (
	"crypto/subtle"
	"log"
	"net/http"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
	"github.com/fila-go/fila/dashboard"
)

// The dashboard mounted at /admin/queues/ behind the host's own
// authentication, here HTTP basic auth.
func ExampleNew() {
	be := memory.New()
	queues := []*fila.Queue{fila.NewQueue(be, "outbound"), fila.NewQueue(be, "inbound")}
	h, err := dashboard.New(queues, dashboard.Options{BasePath: "/admin/queues/", Title: "acme queues"})
	if err != nil {
		log.Fatal(err)
	}
	requireLogin := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, pass, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(pass), []byte("a long secret password")) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="queues"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/queues/", requireLogin(h))
	// Then serve mux: http.ListenAndServe("127.0.0.1:8080", mux).
}
