package redisbackend

import (
	"embed"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// scripts holds one loaded script per transition. Each is lib.lua followed by
// the transition's own file, so every script shares the key layout and
// helpers documented at the top of lib.lua.
type scripts struct {
	add, claim, claimMoved, unclaim, complete, fail, release, extend, stalled *redis.Script
	progress, log, logs, get, list, remove, retry, promote                    *redis.Script
	counts, info, pause, ratelimit, drain, clean, obliterate, metrics         *redis.Script
}

func loadScripts() *scripts {
	lib := read("lib")
	mk := func(name string) *redis.Script {
		return redis.NewScript(lib + "\n-- " + name + ".lua\n" + read(name))
	}
	return &scripts{
		add: mk("add"), claim: mk("claim"), claimMoved: mk("claim_moved"), unclaim: mk("unclaim"), complete: mk("complete"),
		fail: mk("fail"), release: mk("release"), extend: mk("extend"), stalled: mk("stalled"),
		progress: mk("progress"), log: mk("log"), logs: mk("logs"), get: mk("get"), list: mk("list"),
		remove: mk("remove"), retry: mk("retry"), promote: mk("promote"), counts: mk("counts"),
		info: mk("info"), pause: mk("pause"), ratelimit: mk("ratelimit"), drain: mk("drain"),
		clean: mk("clean"), obliterate: mk("obliterate"), metrics: mk("metrics"),
	}
}

func read(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("redisbackend: missing embedded script " + name) // a build defect, not a runtime condition
	}
	return strings.TrimSpace(string(b))
}
