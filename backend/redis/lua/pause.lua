-- pause.lua: pauses or resumes a queue. Pausing renames wait to paused, so a
-- blocked BLMOVE keeps blocking; resuming renames it back and pushes a wake
-- marker at the far end, so blocked claims are served. A wake marker in
-- wait is dropped on pause: moved to paused it would wake no claim, and
-- while out it keeps wake_for_delayed from pushing the one that lets a
-- paused queue move its due delayed jobs to paused on time.
-- ARGV[3] 1 pause, 0 resume
-- Reply: 1 changed, 0 already so
local m = meta()
if ARGV[3] == '1' then
  if m.paused then return 0 end
  unfeed()
  if meta_mk() and rcall('LREM', K_WAIT, -1, MARKER) > 0 then -- from the consuming end, where it mostly sits
    rcall('HDEL', K_META, 'mk')
    m.mk = false
  end
  if rcall('EXISTS', K_WAIT) == 1 then
    if rcall('EXISTS', K_PAUSED) == 1 then
      while rcall('LMOVE', K_WAIT, K_PAUSED, 'RIGHT', 'LEFT') do end
    else
      rcall('RENAME', K_WAIT, K_PAUSED)
    end
  end
  set_meta('paused', 1)
  m.paused = true
  emit('paused', '')
  return 1
end
if not m.paused then return 0 end
rcall('HDEL', K_META, 'paused')
m.paused = false
if rcall('EXISTS', K_PAUSED) == 1 then
  if rcall('EXISTS', K_WAIT) == 1 then
    while rcall('LMOVE', K_PAUSED, K_WAIT, 'LEFT', 'RIGHT') do end
  else
    rcall('RENAME', K_PAUSED, K_WAIT)
  end
end
feed()
if not meta_mk() then
  rcall('LPUSH', K_WAIT, MARKER)
  set_meta('mk', 1)
  m.mk = true
end
emit('resumed', '')
return 1
