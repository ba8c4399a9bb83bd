#!/usr/bin/env bash
# Deletes what a staging data refresh left behind: its temporary instance and snapshot copy of
# production's data (staging-taskmanager-refresh), once older than a refresh can take. A refresh
# deletes both itself whatever happens; only a runner that died first leaves them, and then they
# hold production's data, unsanitized, in staging's account. Run every few hours by
# .github/workflows/reap-refresh-copies.yml; it fails (the alarm: the run is red, and Slack where
# set) whenever it found a copy to delete. docs/runbook.md, "Refresh staging's data".
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'USAGE'
Usage: scripts/reap-refresh-copies.sh [--older-than <hours>]

Finds staging's data refresh copy (the RDS instance and the manual snapshot named
staging-taskmanager-refresh) and deletes each that is older than <hours> (default 7: a refresh
takes at most 6, the workflow's limit), without a final snapshot. A younger one is left alone: a
refresh may be running. Exits 0 when nothing was left behind, 3 when it deleted something (an
alarm: someone should find out why the refresh did not clean up), 1 on an error.
USAGE
}

readonly WORK_ID=staging-taskmanager-refresh

# age_hours TIME: whole hours since an AWS timestamp (REAP_NOW, epoch seconds, stands for now).
age_hours() {
	jq -nr --arg t "$1" --argjson now "${REAP_NOW:-$(date -u +%s)}" \
		'($t | sub("\\.[0-9]+"; "") | sub("\\+00:00$"; "Z") | fromdateiso8601) as $at | (($now - $at) / 3600 | floor)'
}

main() {
	local older=7 json created age found=0
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			return 0
			;;
		--older-than)
			[[ ${2:-} =~ ^[0-9]+$ ]] || die "--older-than needs a whole number of hours"
			older=$2
			shift
			;;
		*) die "unknown argument $1 (see --help)" ;;
		esac
		shift
	done
	require_tools aws jq

	json=$(aws rds describe-db-instances --output json) || die "cannot list the RDS instances (aws rds describe-db-instances)"
	created=$(jq -r --arg id "$WORK_ID" '.DBInstances[] | select(.DBInstanceIdentifier == $id) | .InstanceCreateTime // "now"' <<<"$json")
	if [[ -n $created ]]; then
		if [[ $created == now ]]; then
			log "the instance $WORK_ID is being created: a refresh is running"
		else
			age=$(age_hours "$created")
			if ((age >= older)); then
				step "Deleting the instance $WORK_ID, left behind ${age}h ago"
				aws rds delete-db-instance --db-instance-identifier "$WORK_ID" --skip-final-snapshot \
					--delete-automated-backups --query 'DBInstance.DBInstanceIdentifier' --output text >/dev/null ||
					die "could not delete the instance $WORK_ID (aws rds delete-db-instance): it still holds production's data"
				found=1
			else
				log "the instance $WORK_ID is ${age}h old: a refresh may be running; left alone"
			fi
		fi
	fi

	json=$(aws rds describe-db-snapshots --snapshot-type manual --output json) ||
		die "cannot list the manual snapshots (aws rds describe-db-snapshots)"
	created=$(jq -r --arg id "$WORK_ID" '.DBSnapshots[] | select(.DBSnapshotIdentifier == $id) | .SnapshotCreateTime // "now"' <<<"$json")
	if [[ -n $created && $created != now ]]; then
		age=$(age_hours "$created")
		if ((age >= older)); then
			step "Deleting the snapshot $WORK_ID, left behind ${age}h ago"
			aws rds delete-db-snapshot --db-snapshot-identifier "$WORK_ID" \
				--query 'DBSnapshot.DBSnapshotIdentifier' --output text >/dev/null ||
				die "could not delete the snapshot $WORK_ID (aws rds delete-db-snapshot): it still holds production's data"
			found=1
		else
			log "the snapshot $WORK_ID is ${age}h old: a refresh may be running; left alone"
		fi
	fi

	if ((found)); then
		log "error: a data refresh left a copy of production's data behind (deleted now): find out why its cleanup did not run (the refresh workflow's last runs)"
		return 3
	fi
	log "no copy of production's data left behind"
}

main "$@"
