// Command configdoc writes the configuration reference, docs/configuration.md, from the config
// types (internal/configdoc). Run it from anywhere in the checkout after changing a config type:
//
//	go run ./cmd/configdoc          # rewrite docs/configuration.md
//	go run ./cmd/configdoc -check   # exit 1 when the committed file is stale
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/taskmanager/taskmanager-infra/internal/configdoc"
	"github.com/taskmanager/taskmanager-infra/internal/modroot"
)

func main() {
	check := flag.Bool("check", false, "do not write: exit 1 when "+configdoc.Path+" is not current")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}

func run(check bool) error {
	root, err := modroot.Find()
	if err != nil {
		return err
	}
	doc, err := configdoc.Markdown(root)
	if err != nil {
		return err
	}
	path := filepath.Join(root, filepath.FromSlash(configdoc.Path))
	if check {
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if string(old) != doc {
			return fmt.Errorf("%s is stale: run `go run ./cmd/configdoc`", configdoc.Path)
		}
		return nil
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
