package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the operation failed
	exitUsage = 2 // the command line was wrong
)

// options holds every flag of one invocation; each command registers the
// ones it takes.
type options struct {
	redisURL    string
	postgresURL string
	schema      string
	prefix      string
	jobBuckets  int
	hashTags    string
	globalLock  bool
	json        bool
	timeout     time.Duration

	offset, limit int
	age           time.Duration
	all           bool
	allFailed     bool
	force         bool
	delayed       bool
}

// env is what a command runs with.
type env struct {
	be     backend.Backend
	out    io.Writer
	errOut io.Writer // for logs of a serving command
	opt    *options
}

// queue returns a handle on a named queue.
func (e *env) queue(name string) *fila.Queue { return fila.NewQueue(e.be, name) }

// command is one subcommand.
type command struct {
	name    string
	args    string // the positional arguments, for the usage line
	summary string // one line, for the command list
	detail  string // more, for the command's own help, or ""

	// minArgs and maxArgs bound the positional arguments; maxArgs < 0 means
	// no bound.
	minArgs, maxArgs int
	// knownQueues is how many leading positional arguments must name
	// queues the storage knows (-1: all of them), so a typo fails instead
	// of showing or changing an empty queue. Pause, resume and obliterate
	// take any name: pausing a queue before its first job is legitimate,
	// and obliterating one that is gone is a no-op.
	knownQueues int
	// flags registers the command's own flags, or is nil.
	flags func(fs *flag.FlagSet, o *options)
	// check validates the arguments before connecting, or is nil.
	check func(cmd *command, o *options, args []string) error
	// run does the work.
	run func(ctx context.Context, e *env, args []string) error
	// serve marks a command that runs until interrupted: -timeout bounds
	// connecting, not the whole run.
	serve bool
}

// commands lists the subcommands in the order the usage shows them.
func commands() []*command {
	return []*command{
		statsCommand(), listCommand(), showCommand(), groupsCommand(),
		retryCommand(), promoteCommand(), removeCommand(), cancelCommand(), cleanCommand(),
		pauseCommand(), resumeCommand(), drainCommand(), obliterateCommand(),
		schedulersCommand(), schedulerCommand(),
		dashboardCommand(), migrateCommand(),
	}
}

// usageError is a wrong command line: it is reported with the usage and
// exit status 2.
type usageError struct {
	cmd *command // nil for the top level
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// run executes one command line and returns the exit status. getenv reads
// the environment ($FILA_REDIS_URL and the Upstash variables, see
// resolveTarget); open connects to the storage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, open opener) int {
	var o options
	cmd, rest, err := parse(args, &o)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, cmd)
		return exitOK
	}
	if err != nil {
		return report(stderr, err)
	}

	target, err := resolveTarget(&o, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if target.upstash() {
		stderr = redactWriter{w: stderr, secret: []byte(target.token)}
	}
	target.migrate = cmd.name == "migrate"
	serveCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	be, closeBackend, err := open(ctx, target)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer func() { _ = closeBackend() }()
	if err := requireKnownQueues(ctx, be, o.prefix, queueArgs(cmd, rest)); err != nil {
		return report(stderr, err)
	}
	if cmd.serve {
		ctx = serveCtx
	}
	if err := cmd.run(ctx, &env{be: be, out: stdout, errOut: stderr, opt: &o}, rest); err != nil {
		return report(stderr, err)
	}
	return exitOK
}

// report writes err to stderr, with the usage for a usage error, and
// returns the exit status.
func report(stderr io.Writer, err error) int {
	var ue *usageError
	if !errors.As(err, &ue) {
		fmt.Fprintln(stderr, err)
		var le *redisbackend.LayoutError
		if errors.As(err, &le) {
			fmt.Fprintf(stderr, "fila: queue %q was made with %s job bucket(s) (the REST backend's default is %d, the Redis backend's 1): run fila with -job-buckets %s\n",
				le.Queue, le.Stored, upstash.DefaultJobBuckets, le.Stored)
		}
		return exitFail
	}
	name := "fila"
	if ue.cmd != nil {
		name += " " + ue.cmd.name
	}
	fmt.Fprintf(stderr, "%s: %s\n\n", name, ue.msg)
	printUsage(stderr, ue.cmd)
	return exitUsage
}

// globalFlags registers the flags every command accepts, before or after
// its name.
func globalFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.redisURL, "redis", o.redisURL, redisURLHelp)
	fs.StringVar(&o.postgresURL, "postgres", o.postgresURL, "a PostgreSQL `URL`: use the PostgreSQL backend (default $FILA_POSTGRES_URL)")
	fs.StringVar(&o.schema, "schema", o.schema, "the PostgreSQL `schema` holding fila's tables")
	fs.StringVar(&o.prefix, "prefix", o.prefix, "the key `prefix` the queues were created with")
	fs.IntVar(&o.jobBuckets, "job-buckets", o.jobBuckets,
		"the job bucket `count` the application's backend uses (redisbackend.WithJobBuckets); 0 means its default: 1 over Redis, 32 over Upstash")
	fs.StringVar(&o.hashTags, "hash-tags", o.hashTags,
		"the hash `tags` the application's redisbackend.WithHashTag gives its queues: queue=tag pairs, comma-separated; media*=m tags every queue starting with media")
	fs.BoolVar(&o.globalLock, "global-lock", o.globalLock,
		"over Upstash: run scripts under the database-wide lock, as upstash.Config.GlobalLock (needed to change flows whose jobs are in several queues)")
	fs.BoolVar(&o.json, "json", o.json, "print JSON instead of tables")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "give up after this `duration`")
}

// parse reads the global flags, the command name, and the command's
// arguments, with flags allowed anywhere among them.
func parse(args []string, o *options) (*command, []string, error) {
	o.prefix, o.schema, o.timeout = "fila", "fila", 30*time.Second
	top := flag.NewFlagSet("fila", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	globalFlags(top, o)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		return nil, nil, usagef(nil, "%v", err)
	}
	if top.NArg() == 0 {
		return nil, nil, usagef(nil, "no command given")
	}
	name := top.Arg(0)
	if name == "help" {
		if top.NArg() > 1 {
			cmd := lookup(top.Arg(1))
			if cmd == nil {
				return nil, nil, usagef(nil, "unknown command %q", top.Arg(1))
			}
			return cmd, nil, flag.ErrHelp
		}
		return nil, nil, flag.ErrHelp
	}
	cmd := lookup(name)
	if cmd == nil {
		return nil, nil, usagef(nil, "unknown command %q", name)
	}
	fs := flag.NewFlagSet("fila "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	globalFlags(fs, o)
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	rest, err := parseInterleaved(fs, top.Args()[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return cmd, nil, err
	case err != nil:
		return nil, nil, usagef(cmd, "%v", err)
	case len(rest) < cmd.minArgs:
		return nil, nil, usagef(cmd, "missing arguments: want %s", cmd.args)
	case cmd.maxArgs >= 0 && len(rest) > cmd.maxArgs:
		return nil, nil, usagef(cmd, "too many arguments: want %s", cmd.args)
	}
	if o.timeout <= 0 {
		return nil, nil, usagef(cmd, "-timeout must be positive, got %s", o.timeout)
	}
	if o.jobBuckets < 0 || o.jobBuckets > redisbackend.MaxJobBuckets {
		return nil, nil, usagef(cmd, "-job-buckets must be from 0 (the backend's default) to %d, got %d", redisbackend.MaxJobBuckets, o.jobBuckets)
	}
	if _, err := parseHashTags(o.hashTags); err != nil {
		return nil, nil, usagef(cmd, "%v", err)
	}
	if cmd.check != nil {
		if err := cmd.check(cmd, o, rest); err != nil {
			return nil, nil, err
		}
	}
	return cmd, rest, nil
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments, and returns the positional ones. After "--"
// everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// printUsage writes the top-level usage, or one command's with its flags.
func printUsage(w io.Writer, cmd *command) {
	var o options
	if cmd == nil {
		fmt.Fprint(w, `fila inspects and operates fila job queues in Redis or Upstash.

usage: fila [global flags] <command> [arguments]

commands:
`)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range commands() {
			fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
		}
		_ = tw.Flush()
		fmt.Fprintln(w, "\nglobal flags (allowed before or after the command):")
		fs := flag.NewFlagSet("fila", flag.ContinueOnError)
		globalFlags(fs, &options{prefix: "fila", schema: "fila", timeout: 30 * time.Second})
		fs.SetOutput(w)
		fs.PrintDefaults()
		fmt.Fprint(w, redisURLUsage)
		fmt.Fprint(w, upstashUsage)
		fmt.Fprint(w, postgresUsage)
		fmt.Fprintln(w, "\nRun 'fila help <command>' for a command's flags.")
		return
	}
	fmt.Fprintf(w, "usage: fila %s %s\n\n%s.\n", cmd.name, cmd.args, upperFirst(cmd.summary))
	if cmd.detail != "" {
		fmt.Fprintln(w, cmd.detail)
	}
	if cmd.flags != nil {
		fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
		cmd.flags(fs, &o)
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprintln(w, "\nGlobal flags (-redis, -prefix, -job-buckets, -hash-tags, -global-lock, -json, -timeout) are also accepted; see 'fila -h'.")
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// parseState reads a state argument.
func parseState(cmd *command, s string) (fila.State, error) {
	st := fila.State(s)
	if !st.Valid() {
		names := make([]string, len(backend.States))
		for i, k := range backend.States {
			names[i] = string(k)
		}
		return "", usagef(cmd, "unknown state %q: want one of %s", s, strings.Join(names, ", "))
	}
	return st, nil
}
