package redisbackend

import (
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"strconv"
	"strings"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// scripts holds one loaded script per transition. Each is lib.lua followed by
// the transition's own file, so every script shares the key layout and
// helpers documented at the top of lib.lua. registry.lua stands alone.
type scripts struct {
	add, add1, claim, claimMoved, unclaim, finish, release, extend, stalled     *Script
	progress, log, logs, get, list, remove, retry, promote, events, cursor      *Script
	counts, info, pause, ratelimit, drain, clean, obliterate, metrics, registry *Script
	sched, schedRead                                                            *Script
	group                                                                       *Script
	cancel, cancelled                                                           *Script
	flowAdd, flowChildren                                                       *Script
	// library is every lib.lua-based script as one Redis function library.
	library string
}

// transitions are the scripts built on lib.lua, by file name.
var transitions = []string{
	"add", "add1", "claim", "claim_moved", "unclaim", "finish", "release", "extend", "stalled", "progress", "log",
	"logs", "get", "list", "remove", "retry", "promote", "events", "cursor", "counts", "info", "pause",
	"ratelimit", "drain", "clean", "obliterate", "metrics", "sched", "sched_read", "group",
	"cancel", "cancelled", "flow_add", "flow_children",
}

// schedScripts take the queue's schedulers hash as one more fixed key
// (lua/sched_lib.lua), and start with sched_lib.lua; obliterate.lua takes
// it so that it deletes the queue's schedulers with its other keys.
var schedScripts = map[string]bool{"sched": true, "sched_read": true, "obliterate": true}

// addKeys is how many of a queue's keys add.lua takes: wait, paused, prio,
// delayed, jobs, meta, dedup and events, the first eight in lib.lua's
// order. Each argument costs Redis about 1,100 instructions (a Lua string
// and a table entry), and an add is 120,000.
const addKeys = 8

// add1Keys is how many add1.lua takes: wait, paused, prio, jobs, meta and
// events, the first six, the keys of an add without delay or dedup id.
const add1Keys = 6

func loadScripts() *scripts {
	// lib_jobs.lua, lib_claim.lua and lib_finish.lua continue lib.lua;
	// groups.lua and lib_flows.lua assign functions lib.lua declares.
	lib := read("lib") + "\n" + read("lib_jobs") + "\n" + read("lib_claim") + "\n" + read("lib_finish") + "\n" + read("groups") + "\n" + read("lib_flows")
	bodies := make(map[string]string, len(transitions))
	version := sha1.New()
	version.Write([]byte(lib))
	for _, name := range transitions {
		bodies[name] = read(name)
		if schedScripts[name] {
			bodies[name] = read("sched_lib") + "\n" + bodies[name]
		}
		version.Write([]byte(bodies[name]))
	}
	v := hex.EncodeToString(version.Sum(nil))[:10]

	// The same code two ways: an EVAL script per transition (lib, init,
	// body, done), and one function library in which each transition is a
	// function, so lib's definitions run once at load instead of per call.
	// The body runs as a function of its own, so that done (lib.lua) ends
	// every run whichever way the body returns.
	var libSrc strings.Builder
	libSrc.WriteString("#!lua name=fila_" + v + "\n" + lib + "\n")
	byName := make(map[string]*Script, len(transitions))
	for _, name := range transitions {
		fn := "body_" + name
		body := "local function " + fn + "(KEYS, ARGV)\n-- " + name + ".lua\n" + bodies[name] + "\nend\n"
		fixed := len(keyNames) // the queue's fixed keys; job buckets 1..n-1 follow them
		switch name {
		case "add":
			fixed = addKeys
		case "add1":
			fixed = add1Keys
		}
		if schedScripts[name] {
			fixed++
		}
		run := "init(KEYS, ARGV, " + strconv.Itoa(fixed) + ")\nlocal reply = " + fn + "(KEYS, ARGV)\ndone()\nreturn reply\n"
		sc := newScript(name, lib+"\n"+body+run)
		sc.fn = "fila_" + name + "_" + v
		sc.builtin = true
		byName[name] = sc
		libSrc.WriteString(body + "redis.register_function('" + sc.fn + "', function(KEYS, ARGV)\n" + run + "end)\n")
	}
	// stalled readies jobs too, but StalledCheck signals only when it
	// requeued some.
	for _, name := range []string{"release", "retry", "promote", "pause", "unclaim", "add", "add1", "sched", "group", "flow_add"} {
		byName[name].readies = true
	}
	for name := range schedScripts {
		byName[name].sched = true
	}
	byName["add"].keys = addKeys
	byName["add1"].keys = add1Keys
	s := &scripts{library: libSrc.String(), registry: newScript("registry", read("registry"))}
	s.registry.builtin = true
	byName["registry"] = s.registry
	for _, sc := range byName {
		sc.locking = withKeyLocking(sc)
	}
	for name, dst := range map[string]**Script{
		"add": &s.add, "add1": &s.add1, "claim": &s.claim, "claim_moved": &s.claimMoved, "unclaim": &s.unclaim, "finish": &s.finish,
		"release": &s.release, "extend": &s.extend, "stalled": &s.stalled, "progress": &s.progress, "log": &s.log,
		"logs": &s.logs, "get": &s.get, "list": &s.list, "remove": &s.remove, "retry": &s.retry, "promote": &s.promote,
		"events": &s.events, "cursor": &s.cursor, "counts": &s.counts, "info": &s.info, "pause": &s.pause,
		"ratelimit": &s.ratelimit, "drain": &s.drain, "clean": &s.clean, "obliterate": &s.obliterate, "metrics": &s.metrics,
		"sched": &s.sched, "sched_read": &s.schedRead, "group": &s.group,
		"cancel": &s.cancel, "cancelled": &s.cancelled, "flow_add": &s.flowAdd, "flow_children": &s.flowChildren,
	} {
		*dst = byName[name]
	}
	return s
}

// keyLockingShebang declares that a script touches only the keys in
// KEYS, so Upstash locks those keys instead of the whole database
// (upstash/docs redis/features/key-locking.mdx). Redis 7.0 refuses the
// flag, so it is only on the variant backend/upstash sends.
const keyLockingShebang = "#!lua flags=allow-key-locking\n"

// keysOnlyOff is lib.lua's line that says whether a script may touch only
// its KEYS; the key-locking variant turns it on, which refuses flows
// across queues (lua/lib_flows.lua, in_queue).
const (
	keysOnlyOff = "local KEYS_ONLY = false\n"
	keysOnlyOn  = "local KEYS_ONLY = true\n"
)

// withKeyLocking returns s's KeyLocking variant: the same source behind
// keyLockingShebang with KEYS_ONLY on, and the same settings but no
// function (Upstash runs it with EVALSHA).
func withKeyLocking(s *Script) *Script {
	v := newScript(s.name, keyLockingShebang+strings.Replace(s.src, keysOnlyOff, keysOnlyOn, 1))
	v.readies, v.keys, v.builtin, v.sched = s.readies, s.keys, s.builtin, s.sched
	return v
}

// read returns a script file with its comment lines emptied: every call
// that is not cached yet (the first EVAL, a NOSCRIPT fallback) sends the
// whole source, and the comments were half of it, which counts against a
// REST endpoint's request size (backend/upstash). The lines stay, so a Lua
// error names the file's own line numbers. No script holds a long string
// ([[...]]) in which a line could start with "--".
func read(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("redisbackend: missing embedded script " + name) // a build defect, not a runtime condition
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}
