-- cursor.lua: the ID of the newest event, or 0-0 when there is none.
-- Reply: the ID
local last = rcall('XREVRANGE', K_EVENTS, '+', '-', 'COUNT', 1)
if #last == 0 then return '0-0' end
return last[1][1]
