package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A connection that cannot be made returns a nil interface and an error without the password.
// The context is cancelled, so nothing reaches the network.
func TestConnectFailureReturnsNilDB(t *testing.T) {
	cfg, err := pgx.ParseConfig("postgresql://taskmanager_app@127.0.0.1:5432/taskmanager?sslmode=verify-full")
	require.NoError(t, err)
	cfg.Password = "Secret-Value"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	db, err := connect(ctx, cfg)
	require.Error(t, err)
	assert.True(t, db == nil, "a failed connect must return a nil interface, not a typed nil")
	assert.NotContains(t, err.Error(), "Secret-Value")
}
