package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/fila-go/fila/dashboard"
)

// dashboardPath is where the queue dashboard is mounted.
const dashboardPath = "/admin/queues/"

// Demo mode's dashboard login, public like the demo's other secrets.
const (
	demoDashboardUser     = "admin"
	demoDashboardPassword = "demo"
)

// minDashboardPassword is the shortest DASHBOARD_PASSWORD accepted.
const minDashboardPassword = 12

// DashboardConfig is the login of the queue dashboard. With no password
// the dashboard is not served (demo mode supplies one).
type DashboardConfig struct {
	User     string // DASHBOARD_USER: default "admin"
	Password string // DASHBOARD_PASSWORD: empty turns the dashboard off
}

// loadDashboardConfig reads DASHBOARD_USER and DASHBOARD_PASSWORD.
func loadDashboardConfig(getenv func(string) string, demo bool) (DashboardConfig, error) {
	c := DashboardConfig{User: orDefault(getenv("DASHBOARD_USER"), demoDashboardUser), Password: getenv("DASHBOARD_PASSWORD")}
	switch {
	case c.Password == "" && demo:
		c.Password = demoDashboardPassword
	case c.Password != "" && len(c.Password) < minDashboardPassword:
		return c, fmt.Errorf("config: DASHBOARD_PASSWORD has %d characters; want at least %d", len(c.Password), minDashboardPassword)
	}
	return c, nil
}

// mountDashboard serves fila's dashboard over the app's queues at
// /admin/queues/, behind HTTP basic auth. Without a password it is not
// mounted, and the log says how to turn it on.
func (a *App) mountDashboard(mux *http.ServeMux) {
	c := a.cfg.Dashboard
	if c.Password == "" {
		a.log.Info("queue dashboard off: set DASHBOARD_PASSWORD to serve it at " + dashboardPath)
		return
	}
	h, err := dashboard.New(a.queues.all(), dashboard.Options{
		BasePath: dashboardPath, Title: "whatsapp queues", Logger: a.log.With("component", "dashboard"),
	})
	if err != nil { // the options are fixed: a bug, reported loudly
		a.log.Error("queue dashboard off", "err", err)
		return
	}
	mux.Handle(dashboardPath, basicAuth(c.User, c.Password, h))
	a.log.Info("queue dashboard on", "path", dashboardPath, "user", c.User, "demo_password", a.cfg.Demo && c.Password == demoDashboardPassword)
}

// basicAuth lets through requests with the user and password, comparing
// in constant time, and asks for them otherwise.
func basicAuth(user, password string, next http.Handler) http.Handler {
	wantUser, wantPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPass[:], wantPass[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="queues", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
