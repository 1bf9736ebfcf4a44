-- cursor.lua: the ID of the newest event, or 0-0 when there is none.
-- It marks a reader (lib.lua readers): events are recorded from now on.
-- Reply: the ID
mark_readers()
local last = rcall('XREVRANGE', K_EVENTS, '+', '-', 'COUNT', 1)
if #last == 0 then return '0-0' end
return last[1][1]
