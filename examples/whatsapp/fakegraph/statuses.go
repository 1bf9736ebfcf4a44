package fakegraph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// defaultStatusInterval separates the sent, delivered and read webhooks.
const defaultStatusInterval = 200 * time.Millisecond

// postStatuses posts sent, delivered and read webhooks for an accepted
// message, one Interval apart, until the server closes.
func (s *Server) postStatuses(call Call) {
	defer s.wg.Done()
	cfg := s.opts.Statuses
	interval := cfg.Interval
	if interval <= 0 {
		interval = defaultStatusInterval
	}
	for _, status := range []string{cloudapi.StatusSent, cloudapi.StatusDelivered, cloudapi.StatusRead} {
		t := time.NewTimer(interval)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		n := cloudapi.StatusNotification(call.PhoneNumberID, cloudapi.Status{
			ID: call.MessageID, Status: status, Timestamp: cloudapi.Timestamp(time.Now()),
			RecipientID: call.To, BizOpaqueCallbackData: call.CallbackData,
		})
		if err := s.postWebhook(cfg, n); err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("fake graph: status webhook not delivered", "message", call.MessageID, "status", status, "err", err)
			}
			return
		}
	}
}

// postWebhook posts one signed notification to the app.
func (s *Server) postWebhook(cfg *StatusWebhooks, n cloudapi.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode status webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post status webhook to %s: %w", cfg.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(body, cfg.AppSecret))
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("post status webhook to %s: %w", cfg.URL, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post status webhook to %s: HTTP %d", cfg.URL, resp.StatusCode)
	}
	return nil
}
