package upstash

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeValue(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		json string
		want any
	}{
		{"a status OK stays as it is", `"OK"`, "OK"},
		{"a base64 string is decoded", `"YmFy"`, "bar"},
		{"binary bytes survive", `"/wCA"`, "\xff\x00\x80"},
		{"the empty string", `""`, ""},
		{"an integer is int64", `-42`, int64(-42)},
		{"a large integer keeps its precision", `9007199254740993`, int64(9007199254740993)},
		{"null is nil", `null`, nil},
		{"true is 1, as RESP2 gives a boolean", `true`, int64(1)},
		{"false is 0", `false`, int64(0)},
		{"nested arrays are decoded all the way down", `[1,"T0s=",["YQ==",null,["Yg=="]],"OK"]`,
			[]any{int64(1), "OK", []any{"a", nil, []any{"b"}}, "OK"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := decodeValue(json.RawMessage(c.json))
			require.NoError(t, err)
			require.Equal(t, c.want, v)
		})
	}
	for _, bad := range []string{`"not base64!"`, `1.5`, `{"a":1}`, `[1,"@@"]`} {
		_, err := decodeValue(json.RawMessage(bad))
		require.Error(t, err, bad)
	}
}

func TestArgString(t *testing.T) {
	t.Parallel()
	for in, want := range map[any]string{
		"s": "s", 7: "7", int64(-8): "-8", uint8(9): "9", 1.5: "1.5", true: "1", false: "0",
	} {
		got, err := argString(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	got, err := argString([]byte("\xff"))
	require.NoError(t, err)
	require.Equal(t, "\xff", got)
	_, err = argString(struct{}{})
	require.ErrorContains(t, err, "unsupported type")
}

func TestWriteJSONString(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	for _, s := range []string{"plain", "<html> & \"quotes\"", "\x00\x01\n", "ünïcødé ✓", "\u2028"} {
		b.Reset()
		writeJSONString(&b, s)
		var back string
		require.NoError(t, json.Unmarshal(b.Bytes(), &back))
		require.Equal(t, s, back)
	}
}

func TestWithPrelude(t *testing.T) {
	t.Parallel()
	require.Equal(t, binaryPrelude+"return 1", withPrelude("return 1"))
	require.Equal(t, "#!lua flags=allow-key-locking\n"+binaryPrelude+"return 1",
		withPrelude("#!lua flags=allow-key-locking\nreturn 1"), "a shebang stays the first line")
}

func TestEscapeBinary(t *testing.T) {
	t.Parallel()
	require.Equal(t, "plain text", escapeBinary("plain text"))
	require.Equal(t, "a~7Eb~FF~00~0A~C3~A9", escapeBinary("a~b\xff\x00\n\u00e9"))
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	e := escapeBinary(string(all))
	for i := 0; i < len(e); i++ {
		require.True(t, e[i] >= 0x20 && e[i] <= 0x7e, "printable ASCII only")
	}
}
