// Package modroot finds the checkout's root (the directory of go.mod) from the working
// directory, for the tools and tests that read the project's files.
package modroot

import (
	"errors"
	"os"
	"path/filepath"
)

// Find is the directory of go.mod at or above the working directory.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory: run it inside the checkout")
		}
		dir = parent
	}
}
