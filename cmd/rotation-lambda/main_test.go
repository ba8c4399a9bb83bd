package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An unparsable connection string fails before any network access.
func TestConnectFailureReturnsNilDB(t *testing.T) {
	db, err := connect(context.Background(), "postgresql://user:Secret-Value@host:notaport/db?sslmode=require")
	require.Error(t, err)
	assert.True(t, db == nil, "a failed connect must return a nil interface, not a typed nil")
	assert.NotContains(t, err.Error(), "Secret-Value", "pgx redacts the password")
}
