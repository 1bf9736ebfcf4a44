package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

// The business number and user of the demo conversation (Meta's sample
// values).
const (
	demoPhoneNumberID = "106540352242922"
	demoDisplayNumber = "15550783881"
	demoUser          = "16505551234"
	demoUserName      = "Sheena Nelson"
)

// runDemo runs the app with an in-process fake Graph API (unless
// WHATSAPP_API_URL points elsewhere) that posts status webhooks back, and
// plays a short conversation against the app's own webhook.
func runDemo(ctx context.Context, cfg Config, log *slog.Logger, ln net.Listener) error {
	port := ln.Addr().(*net.TCPAddr).Port
	webhookURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/webhook"
	var fake *fakegraph.Server
	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(context.Background())
	defer func() {
		stopBG()
		bg.Wait()
		if fake != nil {
			fake.Close()
		}
	}()
	if cfg.APIURL == "" {
		fln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ln.Close()
			return fmt.Errorf("demo: listen for the fake Graph API: %w", err)
		}
		fake = fakegraph.New(fakegraph.Options{
			Token: cfg.AccessToken, Logger: log.With("component", "fakegraph"),
			Statuses: &fakegraph.StatusWebhooks{URL: webhookURL, AppSecret: cfg.AppSecret, Interval: 300 * time.Millisecond},
		})
		cfg.APIURL = "http://" + fln.Addr().String() + "/v25.0"
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := fake.Serve(bgCtx, fln); err != nil {
				log.Error("demo: fake Graph API stopped", "err", err)
			}
		}()
	}
	log.Warn("DEMO MODE: built-in secrets, not for production", "graph_api", cfg.APIURL, "webhook", webhookURL)
	app, err := newApp(ctx, cfg, log, nil)
	if err != nil {
		ln.Close()
		return err
	}
	playCtx, stopPlay := context.WithCancel(ctx)
	var play sync.WaitGroup
	play.Add(1)
	go func() {
		defer play.Done()
		playConversation(playCtx, cfg, log.With("component", "demo"), webhookURL, fake)
	}()
	err = app.Run(ctx, ln)
	stopPlay()
	play.Wait()
	return errors.Join(err, app.Close())
}

// demoStep is one webhook the demo posts.
type demoStep struct {
	say  string
	body []byte
}

// playConversation posts a short conversation to the app's webhook, signed
// like Meta's, then reposts the first delivery to show that a redelivery
// is not answered twice, and reports what the fake Graph API received.
func playConversation(ctx context.Context, cfg Config, log *slog.Logger, webhookURL string, fake *fakegraph.Server) {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	in := func(i int) cloudapi.Inbound {
		return cloudapi.Inbound{
			PhoneNumberID: demoPhoneNumberID, DisplayNumber: demoDisplayNumber, From: demoUser, Name: demoUserName,
			ID: fmt.Sprintf("wamid.demo.%s.%d", run, i), At: time.Now(),
		}
	}
	encode := func(n cloudapi.Notification) []byte {
		b, _ := json.Marshal(n)
		return b
	}
	first := encode(cloudapi.TextNotification(in(1), "Hello!"))
	steps := []demoStep{
		{"the user says \"Hello!\"", first},
		{"the user asks \"What are your opening hours?\"", encode(cloudapi.TextNotification(in(2), "What are your opening hours?"))},
		{"the user sends a photo", encode(cloudapi.MediaNotification(in(3), cloudapi.TypeImage, cloudapi.Media{
			ID: "demo-media-" + run, MimeType: "image/jpeg", Caption: "Does it come in another color?",
		}))},
		{"Meta redelivers the first webhook (a retry): it must not be answered twice", first},
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for _, s := range steps {
		if !sleepCtx(ctx, 700*time.Millisecond) {
			return
		}
		status, err := postSigned(ctx, hc, webhookURL, s.body, cfg.AppSecret)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("demo: post webhook", "err", err)
			}
			return
		}
		log.Info("demo: "+s.say, "webhook_status", status)
	}
	if fake == nil {
		log.Info("demo: conversation posted; replies go to WHATSAPP_API_URL")
		return
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := fake.WaitAccepted(waitCtx, fakegraph.Send, 3); err != nil {
		if ctx.Err() == nil {
			log.Error("demo: the replies did not all arrive", "err", err)
		}
		return
	}
	sleepCtx(ctx, 2*time.Second) // let a duplicate show up, if there were one
	log.Info("demo: done", "webhooks_posted", len(steps),
		"replies_sent", len(fake.Accepted(fakegraph.Send)), "read_receipts", len(fake.Accepted(fakegraph.Read)),
		"media_lookups", len(fake.Accepted(fakegraph.Media)))
	log.Info("demo: the app keeps running; see http://" + hostOf(webhookURL) + "/api/queue/metrics and /metrics, Ctrl-C to stop")
}

// postSigned posts body to url with Meta's signature and returns the status.
func postSigned(ctx context.Context, hc *http.Client, url string, body []byte, secret string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("post webhook to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(body, secret))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post webhook to %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func hostOf(u string) string {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return u
	}
	return req.URL.Host
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
