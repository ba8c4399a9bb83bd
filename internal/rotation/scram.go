package rotation

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// PostgreSQL's defaults for a SCRAM-SHA-256 secret (scram_iterations, SCRAM_DEFAULT_SALT_LEN).
const (
	scramIterations = 4096
	scramSaltLength = 16
)

// scramVerifier turns a password into the SCRAM-SHA-256 secret PostgreSQL stores, so that
// CREATE/ALTER ROLE ... PASSWORD never carries the password itself: the database logs DDL
// statements (log_statement = ddl, exported to CloudWatch), and PostgreSQL stores a
// pre-hashed secret as is. This is what psql's \password does. The verifier cannot be used to
// log in.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generate salt: %w", err)
	}
	return scramVerifierWithSalt(password, salt, scramIterations)
}

func scramVerifierWithSalt(password string, salt []byte, iterations int) (string, error) {
	// PostgreSQL applies SASLprep to the password first; it leaves ASCII unchanged and
	// Secrets Manager generates ASCII only, so anything else is refused rather than normalised.
	for i := 0; i < len(password); i++ {
		if password[i] >= 0x80 {
			return "", errors.New("password has non-ASCII characters, which SCRAM would normalise")
		}
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("derive SCRAM key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
