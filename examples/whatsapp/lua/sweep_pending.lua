-- sweep_pending: the first lines of save_message.lua and update_status.lua.
--
-- Once the hash msgs holds more than keep records, deletes the pending
-- ones (receipts whose message has not been saved) created before the Unix
-- ms time before, so receipts for messages that never come do not pile up
-- in a long conversation.
local function sweep_pending(msgs, keep, before)
  if redis.call('HLEN', msgs) <= keep then
    return
  end
  local all, old = redis.call('HGETALL', msgs), {}
  for i = 1, #all, 2 do
    local r = cjson.decode(all[i + 1])
    if r.pending and tonumber(r.pending) < before then
      old[#old + 1] = all[i]
    end
  end
  if #old > 0 then
    redis.call('HDEL', msgs, unpack(old))
  end
end
