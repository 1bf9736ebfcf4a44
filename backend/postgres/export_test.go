package postgres

// ClaimTurns is how many claims of b may talk to the server at once:
// Options.ClaimConcurrency after defaults.
func ClaimTurns(b *Backend) int { return cap(b.turns.slots) }

// WaitingForTurn is how many calls of b wait for a claim turn now.
func WaitingForTurn(b *Backend) int { return int(b.turns.waiting.Load()) }

// OnTurn makes fn run as each claim turn of b begins, before its round
// trips; the function fn returns runs as the turn ends. Set it before b is
// used.
func OnTurn(b *Backend, fn func() (leave func())) { b.turns.inside = fn }
