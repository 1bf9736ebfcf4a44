-- claim.lua: claims the next ready job without blocking, promoting due
-- delayed jobs first.
-- ARGV[3] lock token, [4] lock ms, [5] limiter max (0 = none), [6] limiter window ms
-- Reply:  see claim_next: a job_reply string | {0, ms to next delayed or -1} | {2, retry after ms}
return claim_next(ARGV[3], num(ARGV[4]), num(ARGV[5]), num(ARGV[6]))
