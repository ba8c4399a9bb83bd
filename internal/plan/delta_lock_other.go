//go:build !unix

package plan

// lockFile never locks where flock(2) is missing: every run extracts the base at a path of its
// own, and links it again.
func lockFile(string) (release func(), ok bool) { return nil, false }
