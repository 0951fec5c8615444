package jobs

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Handler runs one job. Its result is stored as JSON and shown by
// Client.Status; returning an error retries the job with backoff, until it
// is out of attempts and goes to the dead set. The context is cancelled at
// the task's timeout and when the worker stops for good.
type Handler func(ctx context.Context, job *Job) (any, error)

// Task is a task defined as a type, for Registry.Register.
type Task interface {
	// Name is the task's name, as passed to Client.Enqueue.
	Name() string
	// Handle runs one job of the task (see Handler).
	Handle(ctx context.Context, job *Job) (any, error)
}

// DefaultMaxAttempts is the number of runs a job gets when neither the task
// nor the enqueue call says otherwise.
const DefaultMaxAttempts = 25

// DefaultTimeout is the time a job may run when its task sets no Timeout.
const DefaultTimeout = 30 * time.Minute

// TaskOption configures a task at registration.
type TaskOption func(*taskConfig)

type taskConfig struct {
	timeout     time.Duration
	maxAttempts int
	loc         *time.Location // of a periodic task's schedule (see TimeZone)
}

// Timeout bounds one run of the task: the handler's context is cancelled
// after d and the run counts as failed (and is retried). Defaults to
// DefaultTimeout.
func Timeout(d time.Duration) TaskOption {
	return func(c *taskConfig) { c.timeout = d }
}

// MaxAttempts is how many times a job of the task runs before it goes to
// the dead set. Defaults to DefaultMaxAttempts. Enqueue's
// WithMaxAttempts overrides it per job.
func MaxAttempts(n int) TaskOption {
	return func(c *taskConfig) { c.maxAttempts = n }
}

type task struct {
	name    string
	handler Handler
	taskConfig
}

// Registry maps task names to handlers. Build it at start-up and share it
// between the Client (to check names) and the Worker (to run them); it is
// safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	tasks    map[string]*task
	periodic []*periodic // see Periodic, in registration order
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{tasks: map[string]*task{}}
}

// validName reports whether s is a valid task name: 1 to 128 letters,
// digits, '_', '.', ':' or '-', starting with a letter or digit. (No
// regexp: it runs on every Enqueue.)
func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Task registers handler h under name. It panics when the name is invalid
// (letters, digits, '_', '.', ':', '-', up to 128, starting with a letter
// or digit), already registered, h is nil or an option is out of range:
// these are programming errors, caught at start-up.
func (r *Registry) Task(name string, h Handler, opts ...TaskOption) {
	if !validName(name, 128) {
		panic(fmt.Sprintf("jobs: invalid task name %q: use letters, digits, '_', '.', ':', '-' (at most 128)", name))
	}
	if h == nil {
		panic(fmt.Sprintf("jobs: task %q has a nil handler", name))
	}
	t := &task{name: name, handler: h, taskConfig: taskConfig{timeout: DefaultTimeout, maxAttempts: DefaultMaxAttempts}}
	for _, o := range opts {
		o(&t.taskConfig)
	}
	if t.timeout <= 0 {
		panic(fmt.Sprintf("jobs: task %q: Timeout must be positive", name))
	}
	if t.maxAttempts < 1 {
		panic(fmt.Sprintf("jobs: task %q: MaxAttempts must be at least 1", name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.tasks[name]; dup {
		panic(fmt.Sprintf("jobs: task %q registered twice", name))
	}
	r.tasks[name] = t
}

// Register registers a task defined as a type; it panics like Task.
func (r *Registry) Register(t Task, opts ...TaskOption) {
	r.Task(t.Name(), t.Handle, opts...)
}

// Names lists the registered task names in order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.tasks))
	for n := range r.tasks {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (r *Registry) lookup(name string) (*task, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	t, ok := r.tasks[name]
	r.mu.RUnlock()
	return t, ok
}
