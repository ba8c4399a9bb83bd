// Package dbtls is how the app's database URLs ask for TLS: one query string for every URL the
// program and the rotation function write (DATABASE_URL, DATABASE_READER_URL, the migrations').
package dbtls

// CABundlePath is where the image keeps the certificate authorities the app verifies the
// database with (README, "Image contract"): the RDS global bundle, which signs the instances'
// certificates, and Amazon's root CAs 1 to 4, which sign RDS Proxy's (an ACM certificate).
const CABundlePath = "/etc/ssl/certs/rds-ca-bundle.pem"

// Query is the URLs' query: libpq's verify-full (the chain leads to a CA of the bundle, and the
// certificate names the host the URL names), which SQLAlchemy passes on to the driver. require
// would encrypt without checking who answers.
const Query = "sslmode=verify-full&sslrootcert=" + CABundlePath
