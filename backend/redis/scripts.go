package redisbackend

import (
	"embed"
	"strings"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// scripts holds one loaded script per transition. Each is lib.lua followed by
// the transition's own file, so every script shares the key layout and
// helpers documented at the top of lib.lua. registry.lua stands alone.
type scripts struct {
	add, claim, claimMoved, unclaim, finish, release, extend, stalled           *Script
	progress, log, logs, get, list, remove, retry, promote, events, cursor      *Script
	counts, info, pause, ratelimit, drain, clean, obliterate, metrics, registry *Script
}

func loadScripts() *scripts {
	lib := read("lib")
	mk := func(name string) *Script {
		return newScript(name, lib+"\n-- "+name+".lua\n"+read(name))
	}
	return &scripts{
		add: mk("add"), claim: mk("claim"), claimMoved: mk("claim_moved"), unclaim: mk("unclaim"),
		finish: mk("finish"), release: mk("release"), extend: mk("extend"),
		stalled: mk("stalled"), progress: mk("progress"), log: mk("log"), logs: mk("logs"), get: mk("get"),
		list: mk("list"), remove: mk("remove"), retry: mk("retry"), promote: mk("promote"),
		events: mk("events"), cursor: mk("cursor"), counts: mk("counts"), info: mk("info"),
		pause: mk("pause"), ratelimit: mk("ratelimit"), drain: mk("drain"), clean: mk("clean"),
		obliterate: mk("obliterate"), metrics: mk("metrics"), registry: newScript("registry", read("registry")),
	}
}

func read(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("redisbackend: missing embedded script " + name) // a build defect, not a runtime condition
	}
	return strings.TrimSpace(string(b))
}
