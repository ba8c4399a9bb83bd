package rotation

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected value was computed independently (Python hashlib/hmac) from RFC 7677's example
// password and salt, following PostgreSQL's scram_build_secret.
func TestScramVerifierKnownAnswer(t *testing.T) {
	salt, err := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	require.NoError(t, err)
	got, err := scramVerifierWithSalt("pencil", salt, 4096)
	require.NoError(t, err)
	assert.Equal(t, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", got)
}

func TestScramVerifierSaltsEachCall(t *testing.T) {
	a, err := scramVerifier("same-password")
	require.NoError(t, err)
	b, err := scramVerifier("same-password")
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(a, "SCRAM-SHA-256$4096:"))
	assert.NotContains(t, a, "same-password")
}

func TestScramVerifierRefusesNonASCII(t *testing.T) {
	_, err := scramVerifier("pässword")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "pässword")
}
