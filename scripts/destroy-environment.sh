#!/usr/bin/env bash
# Destroys a non-production environment: the spec's destroy script, in Pulumi terms. Stops the
# services, takes a final database snapshot and waits for it, lifts the database's deletion
# protection where it is on (staging), then `pulumi destroy`. Production is refused.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: scripts/destroy-environment.sh <stack>

<stack> is dev or staging; production is refused (its data stores are `protect`ed in Pulumi:
deleting them is a deliberate, reviewed change, never a script).

Asks you to type "yes", then:
  1. stops auto scaling from starting tasks again (min = max = 0) and scales api and worker to 0,
     so nothing writes to the database any more, and waits until their tasks have stopped;
  2. snapshots the database as <stack>-final-<UTC time> and waits until the snapshot is available;
  3. where the database (and its replica) has deletion protection on (staging), lifts it, after
     you type the stack's name at a second prompt (asked before anything is changed);
  4. pulumi destroy --yes. The stack itself and its config (Pulumi.<stack>.yaml, with the
     secrets you set) are kept, so scripts/create-environment.sh <stack> recreates it.

Environment: PULUMI_ORG (Pulumi organisation of the stacks).
EOF
}

# protection DB: "True" when the instance exists and has deletion protection on.
protection() {
	aws rds describe-db-instances --db-instance-identifier "$1" \
		--query 'DBInstances[0].DeletionProtection' --output text 2>/dev/null || true
}

main() {
	local stack outputs="" cluster db snapshot protected=() instance targets target svc
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

	outputs=$(stack_outputs "$stack" 2>/dev/null) || outputs='{}'
	# The names are fixed by the program (DESIGN, Names); the outputs are read when there are any.
	cluster=$(output "$outputs" clusterName)
	cluster=${cluster:-$stack-taskmanager}
	db=$(output "$outputs" databaseIdentifier)
	db=${db:-$stack-taskmanager-db}

	for instance in "$db" "$db-replica"; do
		if [[ $(protection "$instance") == True ]]; then protected+=("$instance"); fi
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

	step "Environment $stack destroyed"
	cat >&2 <<EOF
The database's final snapshot: $snapshot (aws rds describe-db-snapshots --db-snapshot-identifier $snapshot).
Its secrets are deleted with it (dev: at once; staging: after a 7-day recovery window, so before
recreating staging within that window: aws secretsmanager restore-secret, or delete-secret
--force-delete-without-recovery, for each taskmanager/$stack/* secret).
To recreate the environment (same names, the stack's config and secrets are kept):
  scripts/create-environment.sh $stack
To bring the data back, restore $snapshot as described in docs/runbook.md (Destroy).
EOF
}

main "$@"
