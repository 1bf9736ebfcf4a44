package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// sendResult is what the sending phase saw.
type sendResult struct {
	start, end time.Time
	posted     map[string]time.Time // accepted webhooks: wamid -> when its POST started
	latencies  []time.Duration      // of accepted webhooks
	codes      map[int]int          // answers by HTTP status
	errors     int                  // POSTs with no answer
	late       int                  // POSTs that started behind schedule (all in flight)
}

// send posts webhooks at o.rate for o.duration, open loop: each POST starts
// at its scheduled time whatever the app's latency, with at most
// o.concurrency in flight.
func send(ctx context.Context, hc *http.Client, o *options) *sendResult {
	res := &sendResult{posted: map[string]time.Time{}, codes: map[int]int{}}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	total := int(o.rate * o.duration.Seconds())
	interval := time.Duration(float64(time.Second) / o.rate)
	slots := make(chan struct{}, o.concurrency)
	var mu sync.Mutex
	var wg sync.WaitGroup
	res.start = time.Now()
	for i := range total {
		due := res.start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		default:
			res.late++
			slots <- struct{}{}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			id := fmt.Sprintf("wamid.load.%s.%d", run, i)
			body := webhookBody(o, id, i)
			start := time.Now()
			code, err := post(ctx, hc, o, body)
			lat := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				res.errors++
			case code == http.StatusOK:
				res.posted[id] = start
				res.latencies = append(res.latencies, lat)
				res.codes[code]++
			default:
				res.codes[code]++
			}
		}()
	}
	wg.Wait()
	res.end = time.Now()
	return res
}

// webhookBody builds the i-th webhook: a text from one of the users.
func webhookBody(o *options, id string, i int) []byte {
	texts := [...]string{"Hello!", "What are your opening hours?", "How much does it cost?", "help", "Can I talk to a human?"}
	user := strconv.Itoa(15550000000 + i%o.users)
	n := cloudapi.TextNotification(cloudapi.Inbound{
		PhoneNumberID: o.phoneID, DisplayNumber: "15550783881", From: user, Name: "Load " + user, ID: id, At: time.Now(),
	}, texts[i%len(texts)])
	b, _ := json.Marshal(n)
	return b
}

func post(ctx context.Context, hc *http.Client, o *options, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(body, o.secret))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
