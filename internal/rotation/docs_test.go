package rotation

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docs/rotation.md's environment table is the operator's reference for the function's
// configuration: every variable LoadConfig reads (the Env* constants) has a row there, so a
// variable added to the code (as APP_HOST was) cannot go undocumented.
func TestEveryEnvironmentVariableIsInTheDocsTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rotation.md")
	require.NoError(t, err)
	file, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, 0)
	require.NoError(t, err)
	var vars []string
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if strings.HasPrefix(name.Name, "Env") && i < len(spec.Values) {
				if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					vars = append(vars, v)
				}
			}
		}
		return true
	})
	require.Contains(t, vars, EnvAppHost, "the Env* constants were not found in config.go")
	for _, v := range vars {
		assert.Regexp(t, "(?m)^\\| `[^|]*"+v+"`", string(doc), "docs/rotation.md's environment table has no row for %s", v)
	}
	// The rotation writes database-url's host from APP_HOST (the proxy where there is one).
	assert.NotContains(t, string(doc), "`host` and `url` from `DB_HOST`")
}
