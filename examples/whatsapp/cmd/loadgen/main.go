// Command loadgen posts signed WhatsApp webhooks to a running app at a
// fixed rate and reports how the app kept up: webhooks accepted per
// second, webhook latency percentiles, and end-to-end reply latency (from
// the POST to the reply reaching the Graph API).
//
// It runs its own fake Graph API, where it sees the replies; point the app
// at it:
//
//	go run ./examples/whatsapp/cmd/loadgen -rate 5 -duration 60s &
//	WHATSAPP_API_URL=http://127.0.0.1:9090/v25.0 DEMO=1 go run ./examples/whatsapp
//
// The app must use the same app secret (-secret; the demo's by default).
// With -fake "" no fake runs and only the webhook side is measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			stop()
			os.Exit(1)
		}
	}
}

// options are loadgen's flags.
type options struct {
	url         string
	secret      string
	rate        float64
	duration    time.Duration
	users       int
	concurrency int
	fakeAddr    string
	token       string
	drain       time.Duration
	phoneID     string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/webhook", "the app's webhook URL")
	fs.StringVar(&o.secret, "secret", "demo-app-secret", "the app secret that signs the webhooks (WHATSAPP_APP_SECRET of the app)")
	fs.Float64Var(&o.rate, "rate", 5, "webhooks per second (one message each)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send")
	fs.IntVar(&o.users, "users", 500, "distinct senders")
	fs.IntVar(&o.concurrency, "concurrency", 256, "most webhooks in flight at once")
	fs.StringVar(&o.fakeAddr, "fake", "127.0.0.1:9090", `address of loadgen's fake Graph API; "" runs none`)
	fs.StringVar(&o.token, "token", "demo-access-token", "the access token the fake expects (WHATSAPP_ACCESS_TOKEN of the app)")
	fs.DurationVar(&o.drain, "drain", 2*time.Minute, "longest wait for the replies after the last webhook")
	fs.StringVar(&o.phoneID, "phone-number-id", "106540352242922", "the business number the webhooks are for")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.rate <= 0:
		return o, fmt.Errorf("-rate must be > 0, got %g", o.rate)
	case o.duration <= 0:
		return o, fmt.Errorf("-duration must be > 0, got %s", o.duration)
	case o.users <= 0 || o.concurrency <= 0:
		return o, errors.New("-users and -concurrency must be > 0")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	var fake *fakegraph.Server
	if o.fakeAddr != "" {
		ln, err := net.Listen("tcp", o.fakeAddr)
		if err != nil {
			return fmt.Errorf("listen for the fake Graph API on %s: %w", o.fakeAddr, err)
		}
		fake = fakegraph.New(fakegraph.Options{Token: o.token})
		fakeCtx, stopFake := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- fake.Serve(fakeCtx, ln) }()
		defer func() {
			stopFake()
			<-served
			fake.Close()
		}()
		fmt.Fprintf(stdout, "fake Graph API on http://%s; start the app with WHATSAPP_API_URL=http://%s/v25.0\n", ln.Addr(), ln.Addr())
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: o.concurrency, MaxIdleConnsPerHost: o.concurrency,
	}}
	defer hc.CloseIdleConnections()
	if err := waitHealthy(ctx, hc, o.url); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "posting %g webhooks/s for %s to %s\n", o.rate, o.duration, o.url)
	res := send(ctx, hc, &o)
	rep := report{opts: &o, send: res}
	if fake != nil {
		rep.replies = awaitReplies(ctx, fake, res, o.drain)
	}
	rep.print(stdout)
	return nil
}

// waitHealthy waits up to a minute for the app's /healthz to answer 200.
func waitHealthy(ctx context.Context, hc *http.Client, webhookURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, webhookURL, nil)
	if err != nil {
		return fmt.Errorf("webhook URL %q: %w", webhookURL, err)
	}
	health := req.URL.Scheme + "://" + req.URL.Host + "/healthz"
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the app at %s is not healthy (last error: %v)", health, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
