package queuedepth

// ReaderUser and ReaderACL are the Redis user the function logs in as, and what it may do: the
// program creates it in ElastiCache (infra/cache) with this access string. PING on connecting,
// then one EVAL whose script calls TYPE, LLEN and LINDEX: nothing that writes, deletes, lists the
// keyspace, reads another command's data or changes the server. Redis checks the commands a
// script calls against the caller's ACL too, so EVAL opens nothing more. SELECT, for a broker
// database other than 0.
const (
	ReaderUser = "queue-depth"
	ReaderACL  = "on ~* -@all +ping +select +eval +type +llen +lindex"
)
