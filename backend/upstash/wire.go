package upstash

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	redisbackend "github.com/fila-go/fila/backend/redis"
)

// Requests are JSON arrays of strings, and a JSON string can only carry
// UTF-8: a byte that is not part of valid UTF-8 would reach Redis as U+FFFD.
// The REST protocol has base64 for replies but nothing for requests, so the
// Conn escapes each argument that is not valid UTF-8 itself (escapeBinary)
// and runs a variant of the script whose first lines unescape it
// (binaryPrelude): the transition's own code is the shared script's Source,
// unchanged. Calls whose arguments are all UTF-8 (JSON payloads, every ID
// and token) run the shared script as it is.
//
// The escape is "~XX" (two upper-case hex digits) for every byte outside
// printable ASCII and for "~" itself, which Lua undoes with one string.gsub
// against a 256-entry table. The scan runs in C, about three times faster
// than a base64 decoder written in Lua (1 MiB of random bytes: ~65ms instead
// of ~200ms on redis-server 7), which matters since a script holds the
// server while it runs; text with a few stray bytes costs next to nothing.
// Random bytes grow about 2.3 times on the wire, text hardly at all.

// binaryPrelude is prepended to a script when some arguments travel
// escaped. ARGV[1] lists their positions (counted after it, separated by
// spaces); the prelude shadows the global ARGV with a local table that holds
// the unescaped arguments, so the script below reads the bytes the caller
// passed and nothing global is modified.
const binaryPrelude = `-- fila upstash transport: unescape the arguments listed in ARGV[1].
local ARGV = (function(raw)
  local bytes = {}
  for i = 0, 255 do bytes[string.format('%02X', i)] = string.char(i) end
  local argv = {}
  for i = 2, #raw do argv[i - 1] = raw[i] end
  for p in string.gmatch(raw[1], '%d+') do
    local i = tonumber(p)
    argv[i] = (string.gsub(argv[i], '~(%x%x)', bytes))
  end
  return argv
end)(ARGV)
`

// escapeBinary escapes s for binaryPrelude: printable ASCII but "~" stays,
// every other byte becomes "~XX".
func escapeBinary(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '~' {
			n += 2
		}
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '~' {
			b = append(b, '~', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// variant is a script as sent: its name, source and SHA1.
type variant struct {
	name, src, hash string
}

// variants caches the binary-safe variant of each shared script (its
// key-locking variant with binaryPrelude after the shebang).
type variants struct {
	m      sync.Map // *redisbackend.Script -> *variant
	global bool     // Config.GlobalLock: send the scripts without key locking
}

// sent is the script as Upstash gets it: for fila's own scripts the
// variant that declares allow-key-locking, so Upstash locks only the
// queue's keys instead of the whole database while it runs, unless
// Config.GlobalLock.
func (vs *variants) sent(s *redisbackend.Script) *redisbackend.Script {
	if vs.global {
		return s
	}
	return s.KeyLocking()
}

// plain is the script as sent when every argument is UTF-8.
func (vs *variants) plain(s *redisbackend.Script) *variant {
	k := vs.sent(s)
	return &variant{name: s.Name(), src: k.Source(), hash: k.Hash()}
}

// binary returns s with binaryPrelude (see withPrelude).
func (vs *variants) binary(s *redisbackend.Script) *variant {
	if v, ok := vs.m.Load(s); ok {
		return v.(*variant)
	}
	out := withPrelude(vs.sent(s).Source())
	sum := sha1.Sum([]byte(out))
	v, _ := vs.m.LoadOrStore(s, &variant{name: s.Name(), src: out, hash: hex.EncodeToString(sum[:])})
	return v.(*variant)
}

// withPrelude puts binaryPrelude at the top of src, after its shebang line
// if it has one.
func withPrelude(src string) string {
	if strings.HasPrefix(src, "#!") {
		line, rest, _ := strings.Cut(src, "\n")
		return line + "\n" + binaryPrelude + rest
	}
	return binaryPrelude + src
}

// evalCall is one script call ready to send: the script variant and the
// JSON of everything after the script (numkeys, keys, args, closing bracket).
type evalCall struct {
	v    *variant
	tail []byte
}

// command is the JSON array of the call with EVALSHA, or EVAL when full.
func (c *evalCall) command(full bool) []byte {
	var b bytes.Buffer
	if full {
		b.Grow(len(c.v.src) + len(c.tail) + 16)
		b.WriteString(`["EVAL",`)
		writeJSONString(&b, c.v.src)
	} else {
		b.Grow(len(c.tail) + 64)
		b.WriteString(`["EVALSHA","`)
		b.WriteString(c.v.hash)
		b.WriteByte('"')
	}
	b.Write(c.tail)
	return b.Bytes()
}

// name describes the call for errors: "EVALSHA claim".
func (c *evalCall) name(full bool) string {
	if full {
		return "EVAL " + c.v.name
	}
	return "EVALSHA " + c.v.name
}

// encodeCall renders a call, switching to the binary-safe variant when an
// argument is not valid UTF-8.
func (vs *variants) encodeCall(s *redisbackend.Script, keys []string, args []any) (*evalCall, error) {
	strs := make([]string, len(args))
	var binaryAt []string
	for i, a := range args {
		v, err := argString(a)
		if err != nil {
			return nil, fmt.Errorf("upstash: %s: argument %d: %w", s.Name(), i+1, err)
		}
		if !utf8.ValidString(v) {
			binaryAt = append(binaryAt, strconv.Itoa(i+1))
			v = escapeBinary(v)
		}
		strs[i] = v
	}
	call := &evalCall{v: vs.plain(s)}
	if binaryAt != nil {
		call.v = vs.binary(s)
		strs = append([]string{strings.Join(binaryAt, " ")}, strs...)
	}
	var b bytes.Buffer
	b.WriteString(`,"`)
	b.WriteString(strconv.Itoa(len(keys)))
	b.WriteByte('"')
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("upstash: %s: key %q is not valid UTF-8", s.Name(), k)
		}
		b.WriteByte(',')
		writeJSONString(&b, k)
	}
	for _, v := range strs {
		b.WriteByte(',')
		writeJSONString(&b, v)
	}
	b.WriteByte(']')
	call.tail = b.Bytes()
	return call, nil
}

// argString renders an argument the way go-redis does.
func argString(a any) (string, error) {
	switch v := a.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int16:
		return strconv.FormatInt(int64(v), 10), nil
	case int8:
		return strconv.FormatInt(int64(v), 10), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(v), 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("unsupported type %T", a)
}

// writeJSONString writes s (valid UTF-8) as a JSON string, without the HTML
// escaping of encoding/json (it only costs bytes here).
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

// answer is one {"result": ...} or {"error": "..."} object.
type answer struct {
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
}

// decodeValue turns a JSON result into the reply types redisbackend.Conn
// promises: int64, string, []any and nil. Strings are base64 (the
// Upstash-Encoding header), except the literal "OK" of a status reply;
// JSON booleans become 1 and 0.
func decodeValue(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return normalize(v)
}

func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s is not an integer", x)
		}
		return n, nil
	case bool:
		// Not in the REST protocol's documented replies, but a JSON reply
		// may hold them (a RESP3 boolean): 1 and 0, as RESP2 and Lua give
		// booleans to Redis clients.
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case string:
		// The literal "OK" of a status reply is never base64, at the top
		// as Upstash sends it or inside an array as some emulators do
		// (Upstash itself encodes it there: "T0s="). "OK" is not valid
		// base64, so the two cannot be confused.
		if x == "OK" {
			return x, nil
		}
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return nil, fmt.Errorf("string %.40q is not base64 (was the Upstash-Encoding header dropped?)", x)
		}
		return string(b), nil
	case []any:
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	}
	return nil, fmt.Errorf("unexpected JSON value of type %T", v)
}
