-- flow_children.lua: what a flow parent's finished children left
-- (lib_flows.lua).
-- ARGV[3] id
-- Reply: {pending, total, entries} | -2 no such job
flows_init()
local id = ARGV[3]
local v = rcall('HMGET', jk(id), 'j:' .. id, 'g:' .. id)
if not v[1] then return -2 end
local st = {}
if v[2] and string.byte(v[2]) == 2 then flow_state(st, v[2]) end
if not st.fpd then return {0, 0, ''} end
local d = flow_data(st.fpd)
return {d.pending, d.total, d.ent}
