#!/usr/bin/env bash
# Refreshes staging's database with a sanitized copy of production's: production's latest
# automated snapshot, copied under staging's key, restored as a temporary instance in staging's
# network, sanitized with the app team's SQL, then dumped and restored into staging's database.
# The temporary instance and the snapshot copy are deleted whatever happens, and an audit line is
# printed. Production is only read (describe, and the copy's source). docs/runbook.md, "Refresh
# staging's data".
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: scripts/refresh-staging-data.sh [--through-bastion] [--sanitize-sql <file>] [--verify-sql <file>]

Replaces the data of staging's database with a sanitized copy of production's:
  1. finds production's latest available automated snapshot of production-taskmanager-db
     (aws rds describe-db-snapshots --snapshot-type automated);
  2. copies it under staging's key (the stack output kmsKeyArn) as staging-taskmanager-refresh:
     production's key must let these credentials decrypt it (kms:Decrypt, kms:DescribeKey,
     kms:CreateGrant), or the copy is refused and the script stops;
  3. restores the copy as the temporary instance staging-taskmanager-refresh, in staging's DB
     subnet group and parameter group (read from staging's database) and its own security group
     (stack output dataRefreshSecurityGroupId: PostgreSQL from staging's bastion only, so none of
     staging's workloads reaches production's data, nor production's passwords on it), with
     staging's instance class, single-AZ, not public; gives it a new master password managed
     by RDS (its secret encrypted with staging's key) and waits until it is available;
  4. runs the sanitization SQL (sanitize/staging.sql, the data owners' fixed file) against the
     temporary instance (psql, one transaction, stops at the first error), then the verification
     query (sanitize/staging-verify.sql), which must return no rows: any row stops the refresh
     before staging is touched (the rows name tables and columns, never a value);
  5. pg_dump of the temporary instance, pg_restore into staging's database (--clean --if-exists,
     one transaction; objects owned by taskmanager_app_owner, as the migrations make them);
  6. always, also after a failure: deletes the temporary instance (no final snapshot) and the
     snapshot copy, and prints the audit line (who, when, which snapshot, the SQL file's sha256,
     the result) on stdout, also appended to REFRESH_AUDIT_FILE when that is set.

It refuses, before anything is created, with a missing or empty SQL file, if
the credentials are not for staging's account, and if any identifier it would write to (the
snapshot copy, the temporary instance, its subnet group, security groups and key, staging's
database and its host) is production's or names production. Production is never written.

Afterwards staging's schema is production's: run staging's migrations again by redeploying what
it runs (scripts/deploy.sh staging current, or the pipeline).

The databases must be reachable from where it runs: on a host in staging's VPC that the database's
security group admits (the bastion), or with --through-bastion, from anywhere: it then forwards
local ports to both instances through staging's bastion (stack output bastionInstanceId) with
Session Manager (the AWS CLI's session-manager-plugin).

Errors of psql, pg_dump and pg_restore may quote production's rows (DETAIL: Key (email)=...):
their messages go to a private file that is deleted at the end, never to the log; psql runs with
VERBOSITY=sqlstate and SHOW_CONTEXT=never, and only the SQLSTATEs are printed.

Options:
  --sanitize-sql <file>   the sanitization SQL (default sanitize/staging.sql: the workflow takes
                          no other)
  --verify-sql <file>     the verification query (default sanitize/staging-verify.sql)
  --through-bastion       reach the databases through staging's bastion (SSM port forwarding)
  -h, --help              this help

Environment (connection details; no password is ever printed or put on a command line):
  PULUMI_ORG                  Pulumi organisation of the stacks
  STAGING_DB_HOST, STAGING_DB_PORT
                              staging's database (default: its endpoint)
  STAGING_DB_USER, STAGING_DB_PASSWORD
                              its login (default: the master user, from its RDS-managed secret)
  TEMP_DB_HOST, TEMP_DB_PORT  the temporary instance (default: its endpoint); its login is always
                              the new master user secret's
  REFRESH_DB_NAME             the database (default taskmanager)
  PGSSLMODE                   libpq's TLS mode (default require: the databases force TLS)
  REFRESH_LOCAL_PORTS         with --through-bastion: the two local ports (default 15433,15432)
  REFRESH_AUDIT_FILE          a file the audit line is appended to
  POLL_SECONDS, WAIT_ROUNDS   seconds between polls (default 15); rounds of the AWS CLI waiters
                              (default 6)
EOF
}

SOURCE_STACK=production
TARGET_STACK=staging
SOURCE_DB=$SOURCE_STACK-taskmanager-db
# The snapshot copy and the temporary instance: one refresh at a time, so one fixed name each.
# A leftover of an earlier run is reported, never reused.
WORK_ID=$TARGET_STACK-taskmanager-refresh
DB_NAME=${REFRESH_DB_NAME:-taskmanager}
# The role the restored objects belong to (docs/rotation.md), as when the migrations create them.
OWNER_ROLE=taskmanager_app_owner
WAIT_ROUNDS=${WAIT_ROUNDS:-6}
export PGSSLMODE=${PGSSLMODE:-require}

# What the run did, for the cleanup and the audit line.
CREATED_SNAPSHOT=0
CREATED_INSTANCE=0
RESULT=failed
AUDIT=0
WORK=""
TUNNELS=()
SNAPSHOT="" SNAPSHOT_TIME="" SQL_FILE="" SQL_HASH="" VERIFY_FILE="" VERIFY_HASH="" WHO="" TARGET_DB="" BASTION=""
# Production's identifiers, gathered read-only: nothing written may equal one of them.
PRODUCTION_IDS=()

# --- production is never written ----------------------------------------------------------------

# not_production WHAT VALUE: refuses a target that names production or is one of its identifiers.
not_production() {
	local what=$1 value=$2 id
	[[ -n $value ]] || die "no $what to check; nothing was changed"
	if [[ ${value,,} == *"$SOURCE_STACK"* ]]; then
		die "refusing: the $what \"$value\" names $SOURCE_STACK; this script never writes to $SOURCE_STACK. Nothing was changed"
	fi
	for id in "${PRODUCTION_IDS[@]}"; do
		[[ -n $id && $value == "$id" ]] &&
			die "refusing: the $what \"$value\" is $SOURCE_STACK's; this script never writes to $SOURCE_STACK. Nothing was changed"
	done
	return 0
}

# --- cleanup and audit ----------------------------------------------------------------------------

audit_line() {
	local line
	line="audit: refresh-staging-data result=$RESULT at=$(date -u +%Y-%m-%dT%H:%M:%SZ) by=$WHO"
	[[ -z ${GITHUB_ACTOR:-} ]] || line+=" actor=$GITHUB_ACTOR"
	[[ -z ${GITHUB_RUN_ID:-} ]] || line+=" run=${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
	line+=" snapshot=$SNAPSHOT snapshot_time=$SNAPSHOT_TIME sanitize_sql=$(printf '%q' "$SQL_FILE") sha256=$SQL_HASH"
	line+=" verify_sql=$(printf '%q' "$VERIFY_FILE") verify_sha256=$VERIFY_HASH target=$TARGET_DB"
	printf '%s\n' "$line"
	if [[ -n ${REFRESH_AUDIT_FILE:-} ]]; then
		printf '%s\n' "$line" >>"$REFRESH_AUDIT_FILE" || warn "cannot append the audit line to $REFRESH_AUDIT_FILE"
	fi
}

close_tunnels() {
	local pid
	for pid in "${TUNNELS[@]}"; do
		# The session's plugin is the CLI's child: both go.
		pkill -P "$pid" 2>/dev/null || true
		kill "$pid" 2>/dev/null || true
	done
	TUNNELS=()
}

# cleanup: on every exit once the snapshot is chosen. Deletes what this run created (the names
# are staging's, checked again), then prints the audit line.
cleanup() {
	local rc=$? left=()
	trap - EXIT INT TERM
	set +e
	close_tunnels
	if ((CREATED_INSTANCE)); then
		step "Deleting the temporary instance $WORK_ID"
		if aws rds delete-db-instance --db-instance-identifier "$WORK_ID" --skip-final-snapshot \
			--delete-automated-backups --query 'DBInstance.DBInstanceIdentifier' --output text >/dev/null; then
			retry_wait 2 aws rds wait db-instance-deleted --db-instance-identifier "$WORK_ID" ||
				warn "$WORK_ID is still being deleted"
		else
			left+=("instance $WORK_ID: aws rds delete-db-instance --db-instance-identifier $WORK_ID --skip-final-snapshot --delete-automated-backups")
		fi
	fi
	if ((CREATED_SNAPSHOT)); then
		step "Deleting the snapshot copy $WORK_ID"
		aws rds delete-db-snapshot --db-snapshot-identifier "$WORK_ID" \
			--query 'DBSnapshot.DBSnapshotIdentifier' --output text >/dev/null ||
			left+=("snapshot $WORK_ID: aws rds delete-db-snapshot --db-snapshot-identifier $WORK_ID")
	fi
	[[ -z $WORK ]] || rm -rf "$WORK"
	for l in "${left[@]}"; do warn "could not delete the $l"; done
	if ((AUDIT)); then audit_line; fi
	if [[ $RESULT == success ]]; then
		step "Staging's database holds sanitized production data from $SNAPSHOT"
		log "Staging's schema is now production's: run staging's migrations by redeploying what it runs"
		log "(scripts/deploy.sh staging current, or the pipeline) before using it."
	fi
	((${#left[@]} == 0)) || rc=1
	exit "$rc"
}

# --- AWS ------------------------------------------------------------------------------------------

# describe_db ID: `describe-db-instances` of one instance, as JSON (.DBInstances[0]).
describe_db() {
	aws rds describe-db-instances --db-instance-identifier "$1" --output json | jq -e '.DBInstances[0]'
}

# secret_string SECRET_ARN: an RDS-managed master secret ({"username","password"}), into a variable
# of the caller's: never printed, never on a command line.
secret_string() {
	aws secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text
}

# field JSON NAME: one non-empty string field of a secret.
field() { jq -er --arg f "$2" '.[$f] | select(type == "string" and . != "")' <<<"$1"; }

# open_tunnel NAME HOST PORT LOCAL_PORT: forwards 127.0.0.1:LOCAL_PORT to HOST:PORT through staging's
# bastion, and waits until PostgreSQL answers there.
open_tunnel() {
	local name=$1 host=$2 port=$3 local_port=$4 i
	log "  $name: 127.0.0.1:$local_port -> $host:$port through $BASTION"
	aws ssm start-session --target "$BASTION" --document-name AWS-StartPortForwardingSessionToRemoteHost \
		--parameters "host=$host,portNumber=$port,localPortNumber=$local_port" >"$WORK/$name-tunnel.log" 2>&1 &
	TUNNELS+=("$!")
	for ((i = 1; i <= 30; i++)); do
		pg_isready -q -h 127.0.0.1 -p "$local_port" -t 2 && return 0
		sleep "$((POLL_SECONDS > 0 ? 2 : 0))"
	done
	die "the tunnel to $name ($host:$port) did not open (Session Manager plugin installed? the bastion online?)"
}

# fields JSON FILTER...: the filters' values (strings) on one line, separated by US (\x1f), which
# no identifier holds, for `IFS=$US read -r a b c`: empty values keep their place.
US=$'\x1f'
fields() {
	local json=$1
	shift
	jq -r --arg us "$US" "[$(IFS=,; printf '%s' "$*")] | map(. // \"\" | tostring) | join(\$us)" <<<"$json"
}

# sql_file WHAT FILE: the file's absolute path, or a refusal when it is missing, unreadable or empty.
sql_file() {
	[[ -f $2 && -r $2 ]] || die "the $1 \"$2\" does not exist or cannot be read; nothing was changed"
	grep -q '[^[:space:]]' "$2" || die "the $1 \"$2\" is empty; nothing was changed"
	printf '%s/%s' "$(cd "$(dirname "$2")" && pwd)" "$(basename "$2")"
}

# sqlstates FILE: the SQLSTATEs of psql's errors in FILE (VERBOSITY=sqlstate: "...: ERROR:  23505"),
# and nothing else of it: the file stays private and goes at the end.
sqlstates() {
	local states
	states=$(grep -oE '(ERROR|FATAL|PANIC): +[0-9A-Z]{5}$' "$1" | grep -oE '[0-9A-Z]{5}$' | sort -u | tr '\n' ' ') || true
	if [[ -n $states ]]; then printf 'SQLSTATE %s' "${states% }"; else printf 'no SQLSTATE: a connection or client error'; fi
}

# conninfo HOST PORT USER: a libpq connection string; the password goes in PGPASSWORD only.
conninfo() { printf 'host=%s port=%s dbname=%s user=%s connect_timeout=15' "$1" "$2" "$DB_NAME" "$3"; }

main() {
	local through_bastion=0 outputs key caller account staging_account staging prod snapshots chosen \
		subnets sgs params class sg bastion_out temp temp_secret temp_host temp_port staging_secret \
		staging_host staging_port staging_user staging_password temp_user temp_password status i \
		temp_login staging_login snapshot_key line \
		ports temp_local staging_local
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			return 0
			;;
		--sanitize-sql)
			[[ $# -ge 2 ]] || die "--sanitize-sql needs a file"
			SQL_FILE=$2
			shift
			;;
		--verify-sql)
			[[ $# -ge 2 ]] || die "--verify-sql needs a file"
			VERIFY_FILE=$2
			shift
			;;
		--through-bastion) through_bastion=1 ;;
		*) die "unknown argument $1 (see --help)" ;;
		esac
		shift
	done

	# The sanitization and its proof are what make the copy fit for staging: without them, nothing
	# starts.
	SQL_FILE=${SQL_FILE:-$REPO_ROOT/sanitize/staging.sql}
	VERIFY_FILE=${VERIFY_FILE:-$REPO_ROOT/sanitize/staging-verify.sql}
	SQL_FILE=$(sql_file "sanitization SQL" "$SQL_FILE")
	VERIFY_FILE=$(sql_file "verification query" "$VERIFY_FILE")
	require_tools pulumi aws jq psql pg_dump pg_restore sha256sum
	((through_bastion == 0)) || require_tools pg_isready
	SQL_HASH=$(sha256sum <"$SQL_FILE" | cut -d' ' -f1)
	VERIFY_HASH=$(sha256sum <"$VERIFY_FILE" | cut -d' ' -f1)
	cd "$REPO_ROOT"

	step "Reading staging's stack and database"
	outputs=$(stack_outputs "$TARGET_STACK") ||
		die "cannot read the outputs of stack $TARGET_STACK (pulumi login? PULUMI_ORG?); nothing was changed"
	TARGET_DB=$(output "$outputs" databaseIdentifier)
	TARGET_DB=${TARGET_DB:-$TARGET_STACK-taskmanager-db}
	key=$(output "$outputs" kmsKeyArn)
	[[ $key == arn:*:kms:*:*:key/* ]] || die "stack $TARGET_STACK has no kmsKeyArn output; nothing was changed"
	staging_account=$(cut -d: -f5 <<<"$key")
	caller=$(aws sts get-caller-identity --query '[Account,Arn]' --output text) ||
		die "cannot tell which AWS account these credentials are for; nothing was changed"
	read -r account WHO <<<"$caller"
	[[ $account == "$staging_account" ]] ||
		die "these AWS credentials are for account $account, but $TARGET_STACK is in account $staging_account; nothing was changed"
	staging=$(describe_db "$TARGET_DB") || die "cannot describe $TARGET_STACK's database $TARGET_DB; nothing was changed"

	step "Reading $SOURCE_STACK's latest automated snapshot (read only)"
	# Production's identifiers, to refuse any of them as a target below. Its instance may not be
	# visible to these credentials (another account): its name and the snapshot's key still are.
	PRODUCTION_IDS=("$SOURCE_DB")
	if prod=$(describe_db "$SOURCE_DB" 2>/dev/null); then
		# Into a variable first: a process substitution's failure would be lost.
		line=$(jq -r '
			.DBSubnetGroup.DBSubnetGroupName, (.VpcSecurityGroups[]?.VpcSecurityGroupId),
			.KmsKeyId, .Endpoint.Address, (.MasterUserSecret.KmsKeyId // empty) | select(. != null)' <<<"$prod") ||
			die "cannot read the identifiers of $SOURCE_DB; nothing was changed"
		[[ -z $line ]] || mapfile -t -O 1 PRODUCTION_IDS <<<"$line"
	else
		warn "cannot describe $SOURCE_DB (another account?): checking the targets against its names and its snapshot's key only"
	fi
	snapshots=$(aws rds describe-db-snapshots --db-instance-identifier "$SOURCE_DB" --snapshot-type automated --output json) ||
		die "cannot list the automated snapshots of $SOURCE_DB; nothing was changed"
	chosen=$(jq -c '[.DBSnapshots[]? | select(.Status == "available")] | sort_by(.SnapshotCreateTime) | last // empty' <<<"$snapshots")
	[[ -n $chosen ]] || die "$SOURCE_DB has no available automated snapshot; nothing was changed"
	line=$(fields "$chosen" '.DBSnapshotArn // .DBSnapshotIdentifier' .SnapshotCreateTime .KmsKeyId) ||
		die "cannot read the snapshot's description; nothing was changed"
	IFS=$US read -r SNAPSHOT SNAPSHOT_TIME snapshot_key <<<"$line"
	PRODUCTION_IDS+=("$snapshot_key")
	log "  $SNAPSHOT ($SNAPSHOT_TIME)"

	# The network and settings of the temporary instance are staging's database's.
	line=$(fields "$staging" \
		.DBSubnetGroup.DBSubnetGroupName '([.VpcSecurityGroups[]?.VpcSecurityGroupId] | join(" "))' \
		'.DBParameterGroups[0].DBParameterGroupName' .DBInstanceClass .Endpoint.Address .Endpoint.Port .MasterUserSecret.SecretArn) ||
		die "cannot read the settings of $TARGET_DB; nothing was changed"
	IFS=$US read -r subnets sgs params class staging_host staging_port staging_secret <<<"$line"
	[[ -n $subnets && -n $sgs && -n $params && -n $class ]] || die "cannot read the settings of $TARGET_DB; nothing was changed"
	# Not staging database's groups, which admit the app's workloads: the copy's own group.
	sgs=$(output "$outputs" dataRefreshSecurityGroupId)
	[[ $sgs == sg-* ]] ||
		die "stack $TARGET_STACK has no dataRefreshSecurityGroupId output (taskmanager:network.dataRefreshGroup, with the bastion): the temporary copy would have no group of its own; nothing was changed"
	staging_host=${STAGING_DB_HOST:-$staging_host}
	staging_port=${STAGING_DB_PORT:-${staging_port:-5432}}

	# Every target, before anything is written.
	not_production "snapshot copy and temporary instance" "$WORK_ID"
	not_production "target database" "$TARGET_DB"
	not_production "target database's host" "$staging_host"
	not_production "DB subnet group" "$subnets"
	for sg in $sgs; do not_production "security group" "$sg"; done
	not_production "KMS key" "$key"
	[[ $TARGET_DB != "$WORK_ID" ]] || die "the target database is the temporary instance's name; nothing was changed"

	if ((through_bastion)); then
		bastion_out=$(output "$outputs" bastionInstanceId)
		[[ -n $bastion_out ]] ||
			die "--through-bastion: $TARGET_STACK has no bastion (stack output bastionInstanceId): set taskmanager:bastion.enabled in Pulumi.$TARGET_STACK.yaml and deploy, or run this where the databases are reachable; nothing was changed"
		BASTION=$bastion_out
		ports=${REFRESH_LOCAL_PORTS:-15433,15432}
		temp_local=${ports%%,*}
		staging_local=${ports##*,}
	fi

	# Leftovers of an earlier run are named, not reused or deleted: someone should look first.
	if status=$(aws rds describe-db-instances --db-instance-identifier "$WORK_ID" \
		--query 'DBInstances[0].DBInstanceStatus' --output text 2>/dev/null); then
		die "the temporary instance $WORK_ID exists already ($status), from an earlier refresh: wait for it to go, or delete it (aws rds delete-db-instance --db-instance-identifier $WORK_ID --skip-final-snapshot --delete-automated-backups); nothing was changed"
	fi
	if status=$(aws rds describe-db-snapshots --db-snapshot-identifier "$WORK_ID" \
		--query 'DBSnapshots[0].Status' --output text 2>/dev/null); then
		die "the snapshot $WORK_ID exists already ($status), from an earlier refresh: delete it (aws rds delete-db-snapshot --db-snapshot-identifier $WORK_ID); nothing was changed"
	fi

	# From here on, whatever happens: the temporary resources go, and the audit line is printed.
	WORK=$(mktemp -d)
	AUDIT=1
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	step "Copying the snapshot under $TARGET_STACK's key as $WORK_ID"
	CREATED_SNAPSHOT=1
	aws rds copy-db-snapshot --source-db-snapshot-identifier "$SNAPSHOT" --target-db-snapshot-identifier "$WORK_ID" \
		--kms-key-id "$key" --tags Key=Purpose,Value=staging-data-refresh "Key=Environment,Value=$TARGET_STACK" \
		--query 'DBSnapshot.DBSnapshotIdentifier' --output text >/dev/null || {
		CREATED_SNAPSHOT=0
		die "the copy of $SNAPSHOT under $TARGET_STACK's key was refused: $SOURCE_STACK's key must let these credentials use it (kms:Decrypt, kms:DescribeKey, kms:CreateGrant; docs/runbook.md, \"Refresh staging's data\")"
	}
	retry_wait 4 aws rds wait db-snapshot-available --db-snapshot-identifier "$WORK_ID" ||
		die "the snapshot copy $WORK_ID did not become available"

	step "Restoring $WORK_ID into $TARGET_STACK's network ($subnets; its own group $sgs)"
	CREATED_INSTANCE=1
	# shellcheck disable=SC2086 # the security groups are one argument each
	aws rds restore-db-instance-from-db-snapshot --db-instance-identifier "$WORK_ID" \
		--db-snapshot-identifier "$WORK_ID" --db-subnet-group-name "$subnets" --vpc-security-group-ids $sgs \
		--db-parameter-group-name "$params" --db-instance-class "$class" --no-multi-az --no-publicly-accessible \
		--no-deletion-protection --tags Key=Purpose,Value=staging-data-refresh "Key=Environment,Value=$TARGET_STACK" \
		--query 'DBInstance.DBInstanceIdentifier' --output text >/dev/null || {
		CREATED_INSTANCE=0
		die "could not restore $WORK_ID"
	}
	retry_wait "$WAIT_ROUNDS" aws rds wait db-instance-available --db-instance-identifier "$WORK_ID" ||
		die "$WORK_ID did not become available"

	# Its master password is production's, whose secret is not ours to read: RDS makes a new one.
	step "A new master password for $WORK_ID (managed by RDS, under $TARGET_STACK's key)"
	aws rds modify-db-instance --db-instance-identifier "$WORK_ID" --manage-master-user-password \
		--master-user-secret-kms-key-id "$key" --apply-immediately \
		--query 'DBInstance.DBInstanceIdentifier' --output text >/dev/null ||
		die "could not set a managed master password on $WORK_ID"
	for ((i = 1; ; i++)); do
		temp=$(describe_db "$WORK_ID") || die "cannot describe $WORK_ID"
		line=$(fields "$temp" \
			'"\(.DBInstanceStatus)/\(.MasterUserSecret.SecretStatus // "")"' .MasterUserSecret.SecretArn .Endpoint.Address .Endpoint.Port) ||
			die "cannot read the description of $WORK_ID"
		IFS=$US read -r status temp_secret temp_host temp_port <<<"$line"
		[[ $status != available/active ]] || break
		((i < 240)) || die "$WORK_ID's new master secret did not become active ($status)"
		sleep "$POLL_SECONDS"
	done
	temp_host=${TEMP_DB_HOST:-$temp_host}
	temp_port=${TEMP_DB_PORT:-${temp_port:-5432}}
	if ! { temp_login=$(secret_string "$temp_secret") && temp_user=$(field "$temp_login" username) &&
		temp_password=$(field "$temp_login" password); }; then
		die "cannot read $WORK_ID's master secret"
	fi
	if ((through_bastion)); then
		step "Tunnel to $WORK_ID"
		open_tunnel "$WORK_ID" "$temp_host" "$temp_port" "$temp_local"
		temp_host=127.0.0.1 temp_port=$temp_local
	fi

	step "Sanitizing $WORK_ID with $SQL_FILE (sha256 $SQL_HASH)"
	# Neither the statements' results nor their errors' text reach the log (they may hold
	# production's data): only the SQLSTATEs.
	PGPASSWORD=$temp_password psql "$(conninfo "$temp_host" "$temp_port" "$temp_user")" --no-psqlrc \
		-v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -v SHOW_CONTEXT=never --single-transaction --quiet \
		-f "$SQL_FILE" >/dev/null 2>"$WORK/sanitize.err" ||
		die "the sanitization SQL failed ($(sqlstates "$WORK/sanitize.err")); $TARGET_STACK was not changed"

	step "Verifying $WORK_ID with $VERIFY_FILE (sha256 $VERIFY_HASH): it must return no rows"
	PGPASSWORD=$temp_password psql "$(conninfo "$temp_host" "$temp_port" "$temp_user")" --no-psqlrc \
		-v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -v SHOW_CONTEXT=never --quiet --no-align --tuples-only \
		--field-separator=' ' -f "$VERIFY_FILE" >"$WORK/verify.out" 2>"$WORK/verify.err" ||
		die "the verification query failed ($(sqlstates "$WORK/verify.err")); $TARGET_STACK was not changed"
	if grep -q '[^[:space:]]' "$WORK/verify.out"; then
		# The fixed query's rows are a table, a column and a count: no value.
		log "  not sanitized (table, column, values):"
		while IFS= read -r line; do
			[[ -z ${line//[[:space:]]/} ]] || log "    ${line:0:200}"
		done <"$WORK/verify.out"
		die "the verification query returned rows: the sanitization left values it must not; $TARGET_STACK was not changed"
	fi
	log "  no rows: every checked value is sanitized"

	step "Dumping the sanitized $WORK_ID"
	PGPASSWORD=$temp_password pg_dump "$(conninfo "$temp_host" "$temp_port" "$temp_user")" \
		--format=custom --no-owner --no-privileges --file "$WORK/sanitized.dump" 2>"$WORK/pg_dump.err" ||
		die "pg_dump of $WORK_ID failed (its messages are not printed: they may quote production's data); $TARGET_STACK was not changed"
	close_tunnels

	if [[ -n ${STAGING_DB_PASSWORD:-} ]]; then
		staging_user=${STAGING_DB_USER:-taskmanager_admin}
		staging_password=$STAGING_DB_PASSWORD
	else
		[[ -n $staging_secret ]] || die "$TARGET_DB has no RDS-managed master secret: set STAGING_DB_USER and STAGING_DB_PASSWORD"
		if ! { staging_login=$(secret_string "$staging_secret") && staging_user=$(field "$staging_login" username) &&
			staging_password=$(field "$staging_login" password); }; then
			die "cannot read $TARGET_DB's master secret"
		fi
		staging_user=${STAGING_DB_USER:-$staging_user}
	fi
	if ((through_bastion)); then
		step "Tunnel to $TARGET_DB"
		open_tunnel "$TARGET_DB" "$staging_host" "$staging_port" "$staging_local"
		staging_host=127.0.0.1 staging_port=$staging_local
	fi

	step "Restoring into $TARGET_DB (replaces its data, in one transaction)"
	PGPASSWORD=$staging_password pg_restore --dbname "$(conninfo "$staging_host" "$staging_port" "$staging_user")" \
		--clean --if-exists --no-owner --no-privileges --role="$OWNER_ROLE" --single-transaction --exit-on-error \
		"$WORK/sanitized.dump" 2>"$WORK/pg_restore.err" ||
		die "pg_restore into $TARGET_DB failed (its messages are not printed: they may quote the copy's data): its transaction was rolled back, its data is as before"
	RESULT=success
}

main "$@"
