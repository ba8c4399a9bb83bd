#!/usr/bin/env bash
# Destroys a non-production environment: the spec's destroy script, in Pulumi terms. Checks that
# the AWS credentials are for the account the stack was deployed to, stops the services, takes a
# final database snapshot and waits for it, lifts the database's deletion protection where it is
# on (staging), then `pulumi destroy`. The environment's KMS key, which encrypts the final
# snapshots, is kept (the program retains it; this script never schedules its deletion). Production
# is refused.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: scripts/destroy-environment.sh <stack>

<stack> is dev or staging; production is refused (its data stores are `protect`ed in Pulumi:
deleting them is a deliberate, reviewed change, never a script).

Asks you to type "yes", then checks that your AWS credentials are for the account the stack was
deployed to (aws sts get-caller-identity against the account of the stack's output kmsKeyArn):
on a mismatch, or if the stack's outputs cannot be read, it stops before anything is changed.
Then:
  1. stops auto scaling from starting tasks again (min = max = 0) and scales api and worker to 0,
     so nothing writes to the database any more, and waits until their tasks have stopped;
  2. snapshots the database as <stack>-final-<UTC time> and waits until the snapshot is available;
  3. where the database (and its replica) has deletion protection on (staging), lifts it, after
     you type the stack's name at a second prompt (asked before anything is changed);
  4. pulumi destroy --yes. The stack itself and its config (Pulumi.<stack>.yaml, with the
     secrets you set) are kept, so scripts/create-environment.sh <stack> <image-tag> recreates it
     (staging within its secrets' recovery window: after force-deleting them, as it prints).
  5. prints the final snapshots (the database's and, where the program takes them, the program's
     own) and the ARN of the KMS key that encrypts them, which outlives the stack: it must stay
     enabled for as long as the snapshots are to be restorable. If the key was scheduled for
     deletion anyway (a program that does not retain it), the deletion is cancelled and the key
     enabled again. docs/runbook.md: "Restore a destroyed environment's snapshot".

Environment: PULUMI_ORG (Pulumi organisation of the stacks).
EOF
}

# check_account STACK KEY_ARN: the credentials' account must be the one the stack was deployed to
# (the account part of its key's ARN), or a destroy would act on another account's resources of
# the same names.
check_account() {
	local stack=$1 key_arn=$2 deployed caller
	[[ $key_arn == arn:*:kms:*:*:key/* ]] ||
		die "cannot tell which AWS account stack $stack was deployed to: it has no kmsKeyArn output (pulumi login? PULUMI_ORG?); nothing was changed"
	deployed=$(cut -d: -f5 <<<"$key_arn")
	caller=$(aws sts get-caller-identity --query Account --output text) ||
		die "cannot tell which AWS account these credentials are for (aws sts get-caller-identity failed); nothing was changed"
	[[ $caller == "$deployed" ]] ||
		die "these AWS credentials are for account $caller, but stack $stack was deployed to account $deployed: use credentials for $deployed (AWS_PROFILE?); nothing was changed"
	log "  AWS account $caller: the account of stack $stack"
}

# keep_key KEY_ARN: the key that encrypts the final snapshots stays enabled, and its state is
# printed. The program retains it on destroy (RetainOnDelete); should it have been scheduled for
# deletion all the same, that is cancelled (which leaves it disabled) and the key enabled again.
keep_key() {
	local key=$1 state
	state=$(aws kms describe-key --key-id "$key" --query KeyMetadata.KeyState --output text) || {
		warn "cannot read the state of $key (aws kms describe-key); the final snapshots need it enabled"
		printf 'state unknown'
		return 0
	}
	if [[ $state == PendingDeletion ]]; then
		warn "$key was scheduled for deletion by pulumi destroy; cancelling that: the final snapshots are unusable without it"
		{ aws kms cancel-key-deletion --key-id "$key" --query KeyId --output text >/dev/null &&
			aws kms enable-key --key-id "$key"; } ||
			die "could not cancel the deletion of $key: run aws kms cancel-key-deletion --key-id $key, then aws kms enable-key --key-id $key, before its deletion window ends"
		state=$(aws kms describe-key --key-id "$key" --query KeyMetadata.KeyState --output text) || state="state unknown"
	fi
	[[ $state == Enabled ]] || warn "$key is $state: the final snapshots cannot be restored until it is Enabled (aws kms enable-key --key-id $key)"
	printf '%s' "$state"
}

# final_snapshots DB KEY_ARN: "<kind> <identifier>" of each snapshot this environment left that is
# encrypted with its key: the database's (this script's, and the program's final one where it
# takes one) and the cache's (the program's final one, where it takes one). Earlier environments
# of the same name had keys of their own: their snapshots are not listed.
final_snapshots() {
	local db=$1 key=$2
	# $k and $key are jq's.
	# shellcheck disable=SC2016
	local mine='select((.KmsKeyId // "") as $k | $k == $key or $k == ($key | sub(".*/"; "")))'
	aws rds describe-db-snapshots --db-instance-identifier "$db" --snapshot-type manual --output json |
		jq -r --arg key "$key" ".DBSnapshots[] | $mine | \"database \(.DBSnapshotIdentifier)\"" || return 1
	aws elasticache describe-snapshots --output json |
		jq -r --arg key "$key" ".Snapshots[] | $mine | \"cache    \(.SnapshotName)\"" || return 1
}

# protection DB: "True" when the instance exists and has deletion protection on.
protection() {
	aws rds describe-db-instances --db-instance-identifier "$1" \
		--query 'DBInstances[0].DeletionProtection' --output text 2>/dev/null || true
}

main() {
	local stack outputs="" cluster db snapshot protected=() instance on targets target svc key key_state snapshots
	case ${1:-} in
	-h | --help)
		usage
		return 0
		;;
	esac
	[[ $# -eq 1 ]] || {
		usage >&2
		die "want <stack>"
	}
	stack=$1
	# Before anything else, and whatever is installed: production is never destroyed by script.
	if [[ $stack == production ]]; then
		die "refusing to destroy production: this script never does (its data stores are protected in Pulumi; see docs/runbook.md)"
	fi
	check_stack "$stack"

	confirm "DESTROY the $stack environment (services, database, cache, network)? Type 'yes':" yes ||
		die "aborted: nothing was changed"
	require_tools pulumi aws jq
	cd "$REPO_ROOT"

	outputs=$(stack_outputs "$stack") ||
		die "cannot read the outputs of stack $stack (pulumi login? PULUMI_ORG?); nothing was changed"
	# Before anything is read or changed in AWS: the account the stack lives in.
	step "Checking the AWS account"
	key=$(output "$outputs" kmsKeyArn)
	check_account "$stack" "$key"
	# The names are fixed by the program (DESIGN, Names); the outputs are read when there are any.
	cluster=$(output "$outputs" clusterName)
	cluster=${cluster:-$stack-taskmanager}
	db=$(output "$outputs" databaseIdentifier)
	db=${db:-$stack-taskmanager-db}

	for instance in "$db" "$db-replica"; do
		on=$(protection "$instance")
		if [[ $on == True ]]; then protected+=("$instance"); fi
	done
	if ((${#protected[@]})); then
		# Deletion protection is there so that nothing deletes this database by accident; lifting
		# it is its own decision, asked now so that the rest runs unattended.
		confirm "Deletion protection is on for ${protected[*]}; it will be lifted after the final snapshot. Type the stack name ($stack) to go on:" "$stack" ||
			die "aborted: nothing was changed"
	fi

	step "Stopping the services of $cluster"
	# Auto scaling (staging) would start tasks again up to its minimum: pin it to 0 first.
	targets=$(aws application-autoscaling describe-scalable-targets --service-namespace ecs \
		--resource-ids "service/$cluster/api" "service/$cluster/worker" \
		--query 'ScalableTargets[].ResourceId' --output text) || targets=""
	for target in $targets; do
		[[ $target == service/* ]] || continue
		aws application-autoscaling register-scalable-target --service-namespace ecs \
			--scalable-dimension ecs:service:DesiredCount --resource-id "$target" \
			--min-capacity 0 --max-capacity 0 >/dev/null
		log "  auto scaling of ${target##*/}: 0 to 0"
	done
	for svc in api worker; do
		aws ecs update-service --cluster "$cluster" --service "$svc" --desired-count 0 \
			--query 'service.serviceName' --output text >/dev/null ||
			die "could not scale $svc to 0; nothing was deleted"
		log "  $svc: desired count 0"
	done
	retry_wait 3 aws ecs wait services-stable --cluster "$cluster" --services api worker ||
		die "the tasks of $cluster did not stop; nothing was deleted"

	# A unique name: an earlier environment of the same name may have left its final snapshot.
	snapshot="$stack-final-$(date -u +%Y%m%d-%H%M%S)"
	step "Final snapshot $snapshot of $db"
	aws rds create-db-snapshot --db-instance-identifier "$db" --db-snapshot-identifier "$snapshot" \
		--query 'DBSnapshot.DBSnapshotIdentifier' --output text >/dev/null ||
		die "could not snapshot $db; nothing was deleted (the services are scaled to 0)"
	retry_wait 4 aws rds wait db-snapshot-available --db-snapshot-identifier "$snapshot" ||
		die "snapshot $snapshot is not available yet; nothing was deleted. Run this script again once it is"
	log "  $snapshot is available"

	for instance in "${protected[@]}"; do
		step "Lifting the deletion protection of $instance"
		aws rds modify-db-instance --db-instance-identifier "$instance" --no-deletion-protection \
			--apply-immediately --query 'DBInstance.DBInstanceIdentifier' --output text >/dev/null
	done

	step "pulumi destroy"
	pulumi destroy --yes --stack "$(stack_ref "$stack")" --message "destroy $stack"

	key_state=$(keep_key "$key")
	snapshots=$(final_snapshots "$db" "$key") || {
		warn "could not list the snapshots encrypted with $key"
		snapshots=""
	}
	# This script's snapshot is named even when the listing missed it.
	grep -qxF "database $snapshot" <<<"$snapshots" || snapshots=$(printf 'database %s\n%s' "$snapshot" "$snapshots")

	step "Environment $stack destroyed"
	cat >&2 <<EOF
Final snapshots, encrypted with the environment's KMS key:
$(sed '/^$/d; s/^/  /' <<<"$snapshots")
The key, retained: $key ($key_state)
  Keep it enabled for as long as any of these snapshots may be restored; once they are deleted,
  schedule its deletion (docs/runbook.md, "Restore a destroyed environment's snapshot").
Its secrets are deleted with it (dev: at once; staging: after a 7-day recovery window). Within
that window the names are still taken: the recreated stack cannot create them ("already exists"),
and restore-secret does not help (the secret then exists, and the new stack still fails to create
it). Before recreating $stack within the window, delete them for good:
  aws secretsmanager list-secrets --include-planned-deletion --filters Key=name,Values=taskmanager/$stack/ \\
    --query 'SecretList[].Name' --output text | xargs -n 1 aws secretsmanager delete-secret \\
    --force-delete-without-recovery --secret-id
(or restore each and pulumi import it into the recreated stack: docs/runbook.md, "Destroy an environment").
To recreate the environment (same names, the stack's config and secrets are kept), with an image
copied from a repository that still holds it (this stack's repository is deleted):
  scripts/create-environment.sh $stack <image-tag> --promote-from <registry>/taskmanager-<other stack>:<image-tag>
To bring the data back: docs/runbook.md, "Restore a destroyed environment's snapshot".
EOF
}

main "$@"
