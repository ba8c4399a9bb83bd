// Package configcheck reports problems in stack configuration: a problem names the stack-file key,
// the bad value and what is allowed, and every problem of a stack is reported at once.
package configcheck

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with one key of the stack file.
type Problem struct {
	// Key is the path of the key, relative to whoever reports it ("cpu", "replica.instanceClass");
	// Prefix makes it absolute ("taskmanager:api.cpu").
	Key string
	// Msg says what the value is and what is allowed instead.
	Msg string
}

func (p Problem) Error() string { return p.Key + ": " + p.Msg }

// Problems collects the problems of one config value. The zero value is ready to use.
type Problems []Problem

// Addf records a problem with key.
func (ps *Problems) Addf(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Merge records the problems of a nested value under prefix.
func (ps *Problems) Merge(prefix string, err error) {
	for _, p := range List(err) {
		*ps = append(*ps, Problem{Key: join(prefix, p.Key), Msg: p.Msg})
	}
}

// Err returns nil when there is no problem, else an error listing them all.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return Error(ps)
}

// Error is the error of one or more problems; its message has one problem a line.
type Error []Problem

func (e Error) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// List returns the problems inside err: those of an Error or a Problem, wherever they are wrapped
// or joined, and any other error as a problem without a key.
func List(err error) []Problem {
	if err == nil {
		return nil
	}
	var many Error
	if errors.As(err, &many) {
		return many
	}
	var one Problem
	if errors.As(err, &one) {
		return []Problem{one}
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []Problem
		for _, e := range joined.Unwrap() {
			out = append(out, List(e)...)
		}
		return out
	}
	return []Problem{{Msg: err.Error()}}
}

func join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	default:
		return prefix + "." + key
	}
}

// OneOf formats the allowed values of a key for a message: "one of 1, 3, 5".
func OneOf[T any](allowed []T) string {
	parts := make([]string, len(allowed))
	for i, a := range allowed {
		parts[i] = fmt.Sprint(a)
	}
	return "one of " + strings.Join(parts, ", ")
}

// Closest returns the candidate nearest to key when it is near enough to be a likely misspelling.
func Closest(key string, candidates []string) (string, bool) {
	best, bestDist := "", len(key)/3+2
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if strings.EqualFold(c, key) {
			return c, true
		}
		if d := levenshtein(strings.ToLower(key), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
