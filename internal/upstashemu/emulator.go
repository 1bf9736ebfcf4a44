// Package upstashemu is test code: an HTTP handler that speaks Upstash's Redis
// REST protocol in front of a real Redis (or miniredis) reached through a
// go-redis client, so backend/upstash can be tested without the service.
//
// It implements what fila's client uses, as Upstash documents it
// (upstash/docs redis/features/restapi.mdx):
//
//   - POST / with a JSON array ["CMD", "arg", ...] (numbers accepted), answered
//     {"result": ...} with 200, or {"error": "..."} with 400 for a Redis
//     error or a command the REST API does not run;
//   - POST /pipeline with a 2-D array, answered 200 with one {"result"} or
//     {"error"} per command, in order;
//   - POST /multi-exec, the same run as MULTI/EXEC; a transaction Redis
//     discards (EXECABORT) is one {"error"} with 400;
//   - "Authorization: Bearer <token>" (or ?_token=): missing or wrong is 401
//     {"error": "WRONGPASS invalid or missing auth token"};
//   - "Upstash-Encoding: base64": every string in a result is base64, except
//     a top-level "OK" (strings inside arrays are all encoded, "OK" too: that
//     is what Upstash's own client decodes);
//   - key-level locking: a script declaring "#!lua flags=allow-key-locking"
//     may touch only keys in its KEYS; the emulator strips the flag (Redis
//     refuses it), maps the client's EVALSHA hash, and runs the script
//     under a guard that raises an error on any other key (scripts.go);
//   - the plans' usage limits on request (SetLimits, limits.go): monthly,
//     daily and per-second command counts and the record size, with
//     Upstash's error texts;
//   - an upstash-sync-token header on every answer;
//   - the 10 MB request limit ("ERR max request size exceeded", 400) and 405
//     for methods other than HEAD, GET, POST and PUT.
//
// Like the service it refuses blocking commands (BLPOP, BLMOVE, XREAD BLOCK,
// WATCH, SUBSCRIBE...), so a test fails if the client ever sends one. The
// texts of the errors it makes up itself are its own; Upstash's may differ.
// It serves only the JSON-body form of commands (POST / and /pipeline),
// the only form backend/upstash sends; the service's path form
// (GET /get/foo) is out of its scope and answered with 400, so a client
// that starts sending it fails its tests instead of passing by accident.
package upstashemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// MaxBody is the request size limit of Upstash's free and pay-as-you-go
// plans.
const MaxBody = 10 << 20

// Server is the emulator. Its counters let tests measure what a client
// costs, since Upstash bills per command.
type Server struct {
	rdb     redis.UniversalClient
	token   string
	maxBody int64

	syncSeq  atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	commands map[string]int64 // by upper-case command name
	lim      limiter          // guarded by mu
	scripts  scripts
}

// New returns an emulator that runs commands on rdb and accepts token. Give
// rdb Protocol 2 so replies have the RESP2 shapes the REST API returns.
func New(rdb redis.UniversalClient, token string) *Server {
	return &Server{rdb: rdb, token: token, maxBody: MaxBody, commands: map[string]int64{}}
}

// SetMaxBody changes the request size limit (to test request splitting).
func (s *Server) SetMaxBody(n int64) { s.maxBody = n }

// Commands returns how many commands of each name ran (or were refused), and
// the total.
func (s *Server) Commands() (map[string]int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.commands))
	var total int64
	for k, v := range s.commands {
		out[k] = v
		total += v
	}
	return out, total
}

// Requests returns how many HTTP requests were answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// ResetCounts zeroes the counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands = map[string]int64{}
	s.requests.Store(0)
}

func (s *Server) count(name string) {
	s.mu.Lock()
	s.commands[strings.ToUpper(name)]++
	s.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	w.Header().Set("Upstash-Sync-Token", strconv.FormatInt(s.syncSeq.Add(1), 10))
	switch r.Method {
	case http.MethodPost, http.MethodPut:
	case http.MethodGet, http.MethodHead:
		if r.URL.Path == "/" {
			_, _ = io.WriteString(w, "Welcome to the fila Upstash REST emulator")
			return
		}
		writeError(w, http.StatusBadRequest, "ERR the emulator serves only JSON-body commands (POST / and /pipeline), not the path form")
		return
	default:
		writeError(w, http.StatusMethodNotAllowed, "ERR method not allowed")
		return
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "WRONGPASS invalid or missing auth token")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "ERR cannot read the request body")
		return
	}
	if int64(len(body)) > s.maxBody {
		writeError(w, http.StatusBadRequest, "ERR max request size exceeded. Limit: "+strconv.FormatInt(s.maxBody, 10)+" bytes")
		return
	}
	enc := strings.EqualFold(r.Header.Get("Upstash-Encoding"), "base64")
	switch r.URL.Path {
	case "/", "":
		s.single(r.Context(), w, body, enc)
	case "/pipeline":
		s.batch(r.Context(), w, body, enc, false)
	case "/multi-exec":
		s.batch(r.Context(), w, body, enc, true)
	default:
		writeError(w, http.StatusNotFound, "ERR unknown endpoint "+r.URL.Path)
	}
}

func (s *Server) authorized(r *http.Request) bool {
	tok := r.URL.Query().Get("_token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		tok = t
	}
	return tok != "" && tok == s.token
}

func (s *Server) single(ctx context.Context, w http.ResponseWriter, body []byte, enc bool) {
	args, err := parseCommand(json.RawMessage(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if status, msg := s.admit(1); status != 0 {
		writeError(w, status, msg)
		return
	}
	s.count(args[0].(string))
	if err := refuse(args); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.recordTooLarge(ctx, args); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	v, err := s.rdb.Do(ctx, s.scripts.translate(args)...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		if isRedisError(err) {
			writeError(w, http.StatusBadRequest, err.Error())
		} else {
			writeError(w, http.StatusInternalServerError, "emulator: redis unavailable: "+err.Error())
		}
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": encodeTop(s.scripts.reply(args, v), enc)})
}

func (s *Server) batch(ctx context.Context, w http.ResponseWriter, body []byte, enc, tx bool) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil || len(raws) == 0 {
		writeError(w, http.StatusBadRequest, "ERR the body must be a non-empty 2-D JSON array of commands")
		return
	}
	cmdArgs := make([][]any, len(raws))
	for i, raw := range raws {
		args, err := parseCommand(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		cmdArgs[i] = args
	}
	if status, msg := s.admit(int64(len(cmdArgs))); status != 0 {
		writeError(w, status, msg)
		return
	}
	answers := make([]map[string]any, len(cmdArgs))
	var pipe redis.Pipeliner
	if tx {
		pipe = s.rdb.TxPipeline()
	} else {
		pipe = s.rdb.Pipeline()
	}
	cmds := make([]*redis.Cmd, len(cmdArgs))
	for i, args := range cmdArgs {
		s.count(args[0].(string))
		if err := refuse(args); err != nil {
			if tx {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			answers[i] = map[string]any{"error": err.Error()}
			continue
		}
		if err := s.recordTooLarge(ctx, args); err != nil {
			if tx {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			answers[i] = map[string]any{"error": err.Error()}
			continue
		}
		cmds[i] = pipe.Do(ctx, s.scripts.translate(args)...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !isRedisError(err) {
		writeError(w, http.StatusInternalServerError, "emulator: redis unavailable: "+err.Error())
		return
	}
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		v, err := cmd.Result()
		switch {
		case err == nil || errors.Is(err, redis.Nil):
			answers[i] = map[string]any{"result": encodeTop(s.scripts.reply(cmdArgs[i], v), enc)}
		case tx && strings.HasPrefix(err.Error(), "EXECABORT"):
			writeError(w, http.StatusBadRequest, err.Error())
			return
		default:
			answers[i] = map[string]any{"error": err.Error()}
		}
	}
	writeJSON(w, http.StatusOK, answers)
}

// parseCommand reads ["CMD", arg...]: strings and numbers.
func parseCommand(raw json.RawMessage) ([]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var elems []any
	if err := d.Decode(&elems); err != nil || len(elems) == 0 {
		return nil, errors.New("ERR a command must be a non-empty JSON array")
	}
	args := make([]any, len(elems))
	for i, e := range elems {
		switch v := e.(type) {
		case string:
			args[i] = v
		case json.Number:
			args[i] = v.String()
		default:
			return nil, fmt.Errorf("ERR argument %d is not a string or a number", i)
		}
	}
	if _, ok := args[0].(string); !ok || args[0] == "" {
		return nil, errors.New("ERR the command name must be a string")
	}
	return args, nil
}

// unsupported are the commands the REST API does not run: blocking ones,
// optimistic locking, connection state and pub/sub outside /subscribe.
var unsupported = map[string]bool{
	"BLPOP": true, "BRPOP": true, "BRPOPLPUSH": true, "BLMOVE": true, "BLMPOP": true,
	"BZPOPMIN": true, "BZPOPMAX": true, "BZMPOP": true, "WAIT": true, "WAITAOF": true,
	"WATCH": true, "UNWATCH": true, "MULTI": true, "EXEC": true, "DISCARD": true,
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true, "MONITOR": true,
	"SELECT": true, "AUTH": true, "HELLO": true, "QUIT": true, "RESET": true,
}

// refuse returns the error for a command REST does not run.
func refuse(args []any) error {
	name := strings.ToUpper(args[0].(string))
	if unsupported[name] {
		return fmt.Errorf("ERR Command is not available over REST: %s", name)
	}
	if name == "XREAD" || name == "XREADGROUP" {
		for _, a := range args[1:] {
			if strings.EqualFold(fmt.Sprint(a), "BLOCK") {
				return fmt.Errorf("ERR blocking %s is not available over REST", name)
			}
		}
	}
	return nil
}

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// encodeTop applies Upstash-Encoding: base64 to a whole reply: a
// top-level "OK" stays as it is, as Upstash's client expects (pkg/http.ts
// treats only a top-level "OK" as plain and base64-decodes every string
// inside an array), and strings nested in arrays are all encoded, "OK"
// included.
func encodeTop(v any, b64 bool) any {
	if x, ok := v.(string); ok && x == "OK" {
		return x
	}
	return encode(v, b64)
}

// encode applies Upstash-Encoding: base64 to a reply or a part of one.
// Booleans (RESP3 replies) stay JSON booleans.
func encode(v any, b64 bool) any {
	switch x := v.(type) {
	case string:
		if b64 {
			return base64.StdEncoding.EncodeToString([]byte(x))
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encode(e, b64)
		}
		return out
	case map[any]any: // RESP3 maps, should a client use protocol 3
		out := make([]any, 0, 2*len(x))
		for k, e := range x {
			out = append(out, encode(k, b64), encode(e, b64))
		}
		return out
	}
	return v // int64, nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
