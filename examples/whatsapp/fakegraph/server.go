package fakegraph

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// Kind is the kind of a Graph API call.
type Kind string

// The kinds of calls the fake answers.
const (
	Send  Kind = "send"  // POST /<phone>/messages with a text message
	Read  Kind = "read"  // POST /<phone>/messages with status "read"
	Media Kind = "media" // GET /<media-id>
)

// Call is one request the fake answered.
type Call struct {
	Kind          Kind
	At            time.Time // when the answer was decided (after any hold)
	PhoneNumberID string
	To            string // Send: the recipient
	Text          string // Send: the body
	ReplyTo       string // Send: context.message_id
	CallbackData  string // Send: biz_opaque_callback_data
	// MessageID is, for Send, the wamid the fake gave the message and, for
	// Read, the message marked read.
	MessageID string
	MediaID   string // Media: the ID looked up
	Status    int    // the HTTP status answered
	Code      int    // the Graph error code answered; 0 on success
}

// OK reports whether the call was answered with success.
func (c Call) OK() bool { return c.Status >= 200 && c.Status <= 299 }

// Options configure a Server. The zero value accepts any token, logs
// nothing and posts no status webhooks.
type Options struct {
	// Token is the bearer token calls must carry; empty accepts any.
	Token string
	// Logger receives a line per call; nil logs nothing.
	Logger *slog.Logger
	// Statuses, when set, makes the fake post status webhooks for every
	// message it accepts.
	Statuses *StatusWebhooks
}

// StatusWebhooks is where and how the fake posts sent, delivered and read
// status webhooks for the messages it accepts.
type StatusWebhooks struct {
	URL       string        // the app's POST /webhook
	AppSecret string        // signs them, as Meta does
	Interval  time.Duration // between sent, delivered and read; default 200ms
}

// Server is the fake Graph API. It is safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	id   string // makes wamids unique across fakes

	mu      sync.Mutex
	calls   []Call
	script  map[Kind][]Response
	holding map[Kind]bool
	held    int
	gate    chan struct{} // closed by Release
	changed chan struct{} // closed and replaced when calls or held change
	seq     int
	media   map[string]mediaFile
	photo   []byte // the JPEG of unregistered media IDs

	ctx    context.Context // ends status webhooks
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hc     *http.Client
}

type mediaFile struct {
	mime string
	data []byte
}

// New returns a fake Graph API.
func New(opts Options) *Server {
	var id [3]byte
	_, _ = rand.Read(id[:])
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts: opts, log: log, id: hex.EncodeToString(id[:]),
		script: map[Kind][]Response{}, holding: map[Kind]bool{},
		gate: make(chan struct{}), changed: make(chan struct{}), media: map[string]mediaFile{}, photo: samplePhoto(),
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Script makes the next calls of kind answer rs, in order; calls after
// them succeed again.
func (s *Server) Script(kind Kind, rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[kind] = append(s.script[kind], rs...)
}

// Hold makes calls of the given kinds wait before they are answered, until
// Release. A held call whose client goes away (a killed process) is not
// answered and not recorded: it never reached "Meta".
func (s *Server) Hold(kinds ...Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range kinds {
		s.holding[k] = true
	}
}

// Release answers the held calls and stops holding.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding = map[Kind]bool{}
	close(s.gate)
	s.gate = make(chan struct{})
	s.notify()
}

// Held returns the number of calls waiting on Hold now.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// AddMedia registers a media file GET /<id> describes and GET
// /media/<id> serves. Unregistered IDs are answered as a small JPEG.
func (s *Server) AddMedia(id, mime string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[id] = mediaFile{mime: mime, data: append([]byte(nil), data...)}
}

// Calls returns every call answered so far, successful or not, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Accepted returns the successful calls of kind, in order.
func (s *Server) Accepted(kind Kind) []Call {
	return Filter(s.Calls(), kind, true)
}

// Filter returns the calls of kind, only the successful ones when ok.
func Filter(calls []Call, kind Kind, ok bool) []Call {
	var out []Call
	for _, c := range calls {
		if c.Kind == kind && (!ok || c.OK()) {
			out = append(out, c)
		}
	}
	return out
}

// Wait blocks until cond holds for the calls answered so far, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(calls []Call) bool) error {
	for {
		s.mu.Lock()
		calls := append([]Call(nil), s.calls...)
		ch := s.changed
		s.mu.Unlock()
		if cond(calls) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakegraph: wait: %w", ctx.Err())
		}
	}
}

// WaitAccepted blocks until at least n calls of kind succeeded, or ctx ends.
func (s *Server) WaitAccepted(ctx context.Context, kind Kind, n int) error {
	return s.Wait(ctx, func(calls []Call) bool { return len(Filter(calls, kind, true)) >= n })
}

// WaitHeld blocks until at least n calls are held, or ctx ends.
func (s *Server) WaitHeld(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		held, ch := s.held, s.changed
		s.mu.Unlock()
		if held >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakegraph: wait for %d held calls (have %d): %w", n, held, ctx.Err())
		}
	}
}

// Close releases held calls, stops the status webhooks in flight and waits
// for them.
func (s *Server) Close() {
	s.cancel()
	s.Release()
	s.wg.Wait()
	s.hc.CloseIdleConnections()
}

// notify wakes Wait callers; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var versionSegment = regexp.MustCompile(`^v[0-9]+(\.[0-9]+)?$`)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) > 0 && versionSegment.MatchString(parts[0]) {
		parts = parts[1:]
	}
	switch {
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "messages":
		s.messages(w, r, parts[0])
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "media":
		s.download(w, r, parts[1])
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] != "":
		s.mediaInfo(w, r, parts[0])
	default:
		writeError(w, Response{Status: http.StatusNotFound, Code: 100, Message: "Unknown path " + r.Method + " " + r.URL.Path})
	}
}

// messages answers POST /<phone>/messages: a text send or a read receipt.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, phone string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req cloudapi.MessagesRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	call := Call{Kind: Send, PhoneNumberID: phone, To: req.To, CallbackData: req.BizOpaqueCallbackData}
	if req.Status != "" {
		call.Kind, call.MessageID = Read, req.MessageID
	}
	if req.Text != nil {
		call.Text = req.Text.Body
	}
	if req.Context != nil {
		call.ReplyTo = req.Context.MessageID
	}
	resp, ok := s.begin(r, &call)
	if !ok {
		return
	}
	if resp == nil && err != nil {
		resp = &Response{Status: http.StatusBadRequest, Code: 100, Message: "(#100) Body is not JSON: " + err.Error()}
	}
	if resp == nil {
		resp = validate(&req, call.Kind)
	}
	if resp != nil {
		s.finish(w, call, *resp)
		return
	}
	if call.Kind == Read {
		s.finishOK(w, call, cloudapi.SuccessResponse{Success: true})
		s.log.Info("fake graph: message marked read", "message", call.MessageID)
		return
	}
	s.mu.Lock()
	s.seq++
	call.MessageID = fmt.Sprintf("wamid.fake.%s.%d", s.id, s.seq)
	s.mu.Unlock()
	s.finishOK(w, call, cloudapi.SendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []cloudapi.SentContact{{Input: call.To, WaID: call.To}},
		Messages:         []cloudapi.SentMessageRef{{ID: call.MessageID}},
	})
	s.log.Info("fake graph: text sent", "to", call.To, "reply_to", call.ReplyTo, "text", call.Text, "id", call.MessageID)
	if s.opts.Statuses != nil {
		s.wg.Add(1)
		go s.postStatuses(call)
	}
}

// validate checks a messages request as Meta would; nil means valid.
func validate(req *cloudapi.MessagesRequest, kind Kind) *Response {
	bad := func(msg string) *Response {
		return &Response{Status: http.StatusBadRequest, Code: 100, Message: "(#100) " + msg}
	}
	switch {
	case req.MessagingProduct != "whatsapp":
		return bad(`messaging_product must be "whatsapp"`)
	case kind == Read && req.Status != cloudapi.StatusRead:
		return bad(`status must be "read"`)
	case kind == Read && req.MessageID == "":
		return bad("message_id is required")
	case kind == Read:
		return nil
	case req.To == "":
		return bad("to is required")
	case req.Type != cloudapi.TypeText || req.Text == nil:
		return bad("the fake sends text messages only")
	}
	if n := utf8.RuneCountInString(req.Text.Body); n == 0 || n > cloudapi.MaxTextLen {
		return bad(fmt.Sprintf("text.body is %d characters, want 1 to %d", n, cloudapi.MaxTextLen))
	}
	return nil
}

// mediaInfo answers GET /<media-id>.
func (s *Server) mediaInfo(w http.ResponseWriter, r *http.Request, id string) {
	call := Call{Kind: Media, MediaID: id}
	resp, ok := s.begin(r, &call)
	if !ok {
		return
	}
	if resp != nil {
		s.finish(w, call, *resp)
		return
	}
	f := s.mediaFile(id)
	sum := sha256.Sum256(f.data)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	s.finishOK(w, call, cloudapi.MediaInfo{
		MessagingProduct: "whatsapp", URL: scheme + "://" + r.Host + "/media/" + id,
		MimeType: f.mime, SHA256: hex.EncodeToString(sum[:]), FileSize: cloudapi.Size(len(f.data)), ID: id,
	})
	s.log.Info("fake graph: media looked up", "media", id, "mime_type", f.mime)
}

// download answers GET /media/<id> with the file's bytes.
func (s *Server) download(w http.ResponseWriter, r *http.Request, id string) {
	if !s.authorized(r) {
		writeError(w, unauthorized())
		return
	}
	f := s.mediaFile(id)
	w.Header().Set("Content-Type", f.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	_, _ = w.Write(f.data)
}

func (s *Server) mediaFile(id string) mediaFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.media[id]; ok {
		return f
	}
	return mediaFile{mime: "image/jpeg", data: s.photo}
}

// samplePhoto is a real 320x240 JPEG (a gradient), so an app can decode
// what it downloads.
func samplePhoto() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / 320), G: uint8(y * 255 / 240), B: 120, A: 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return buf.Bytes()
}

// begin checks the token, waits on a hold and takes the next scripted
// answer. ok is false when the client went away while held.
func (s *Server) begin(r *http.Request, call *Call) (resp *Response, ok bool) {
	if !s.authorized(r) {
		u := unauthorized()
		return &u, true
	}
	s.mu.Lock()
	if s.holding[call.Kind] {
		gate := s.gate
		s.held++
		s.notify()
		s.mu.Unlock()
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.held--
		s.notify()
		if r.Context().Err() != nil {
			s.mu.Unlock()
			s.log.Info("fake graph: held call dropped: the client went away", "kind", call.Kind)
			return nil, false
		}
	}
	defer s.mu.Unlock()
	if q := s.script[call.Kind]; len(q) > 0 {
		s.script[call.Kind] = q[1:]
		return &q[0], true
	}
	return nil, true
}

func (s *Server) authorized(r *http.Request) bool {
	return s.opts.Token == "" || r.Header.Get("Authorization") == "Bearer "+s.opts.Token
}

func unauthorized() Response {
	return Response{Status: http.StatusUnauthorized, Code: cloudapi.CodeAccessToken, Message: "Invalid OAuth access token."}
}

// finish records a failed call and writes its error.
func (s *Server) finish(w http.ResponseWriter, call Call, r Response) {
	call.Status, call.Code = r.Status, r.Code
	s.record(call)
	s.log.Info("fake graph: answered with an error", "kind", call.Kind, "status", r.Status, "code", r.Code)
	writeError(w, r)
}

// finishOK records a successful call and writes its answer.
func (s *Server) finishOK(w http.ResponseWriter, call Call, body any) {
	call.Status = http.StatusOK
	s.record(call)
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) record(call Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call.At = time.Now()
	s.calls = append(s.calls, call)
	s.notify()
}

func writeError(w http.ResponseWriter, r Response) {
	if r.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((r.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, r.Status, r.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
