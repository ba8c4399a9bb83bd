#!/usr/bin/env bash
# The nightly drift check of one stack (.github/workflows/drift.yml): `pulumi preview --refresh
# --expect-no-changes`; on drift, one GitHub issue per stack ("Drift: <stack>", label drift) gets
# the preview's summary: a comment on the open one, or a new issue. docs/runbook.md, "Detect drift".
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: scripts/report-drift.sh <stack>

Runs `pulumi preview --refresh --expect-no-changes --json` of <stack> (dev, staging or production)
with the credentials and the image tag already in place (the workflow sets the tag the stack runs
first, as every preview does). Then:
  - no change proposed: says so; no issue is touched;
  - changes proposed (drift): the open issue titled "Drift: <stack>" with the label "drift" gets a
    comment with the preview's summary, or, if there is none, such an issue is created;
  - the preview failed without proposing changes (credentials, the program): an error, no issue.

Not checked: the resources whose refresh would read a secret's value (NOT_REFRESHED below: today
Secrets Manager secret versions, whose refresh calls GetSecretValue, and staging's sign-in client,
whose refresh calls DescribeUserPoolClient, which returns its secret: the drift role is denied both)
are left out of the preview (--exclude, by URN, read from the stack's state: pulumi stack export,
its secrets still encrypted); the summary says how many. Their secrets' metadata, rotation and
policies are still checked (aws:secretsmanager/secret).

The summary is the change counts and, per changed resource, the operation, its name and type and
the names of the properties that differ: never a value (no old or new state, no diagnostics).

Exit status: 0 when the stack was checked (drift or not), non-zero when it could not be.
In GitHub Actions it writes the step outputs drift (true/false), issue (the issue's URL) and
summary (the counts, one line), and the summary to the job's step summary.

Environment:
  PULUMI_ORG    Pulumi organisation of the stacks
  GH_TOKEN      a token that may read and write the repository's issues (gh); GH_REPO: owner/repo
  RUN_URL       the workflow run, named in the issue
  DRIFT_LABEL   the label (default drift)
EOF
}

LABEL=${DRIFT_LABEL:-drift}
# How many resources the check left out (NOT_REFRESHED), for the issue.
NOT_CHECKED=0
# The most resources listed in one comment (an issue comment holds at most 65536 characters).
MAX_ROWS=100
# Operations that change nothing: the rest are drift. A replacement shows as replace, plus a
# create-replacement and a delete-replaced step of the same resource: only replace is listed.
NOT_CHANGES='["same", "read", "refresh", "create-replacement", "delete-replaced"]'

# NOT_REFRESHED are the resource types whose refresh reads data the drift roles are denied
# (access/permissions, Describe): left out of the check, never a reason to lift the deny.
NOT_REFRESHED='["aws:secretsmanager/secretVersion:SecretVersion", "aws:cognito/userPoolClient:UserPoolClient"]'

# set_output NAME VALUE: a step output, in GitHub Actions.
set_output() {
	[[ -n ${GITHUB_OUTPUT:-} ]] || return 0
	printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
}

# counts PREVIEW_JSON: "1 to update, 1 to replace, 57 unchanged", from the preview's changeSummary,
# in Pulumi's order.
counts() {
	jq -r --argjson skip "$NOT_CHANGES" '
		(.changeSummary // {}) as $c
		| ["create", "update", "replace", "delete", "import"] as $order
		| ([$order[] | select(($c[.] // 0) > 0) | "\($c[.]) to \(.)"]
			+ [$c | to_entries[] | select(.value > 0 and (.key as $k | $skip + $order | index($k) | not)) | "\(.value) \(.key)"]
			+ (if ($c.same // 0) > 0 then ["\($c.same) unchanged"] else [] end))
		| join(", ")' "$1"
}

# changed PREVIEW_JSON: how many resources change (0: no drift after all).
changed() {
	jq -r --argjson skip "$NOT_CHANGES" '
		[(.changeSummary // {}) | to_entries[] | select(.key as $k | $skip | index($k) | not) | .value] | add // 0' "$1"
}

# rows PREVIEW_JSON: one Markdown table row per changed resource: operation, name, type, the
# properties that differ. Only the step's op, URN and property names are read: no value.
rows() {
	jq -r --argjson skip "$NOT_CHANGES" --argjson max "$MAX_ROWS" '
		def clean: tostring | gsub("[^A-Za-z0-9_.:/$@\\-\\[\\]]"; "");
		[.steps // [] | .[] | select(.op as $o | $skip | index($o) | not)] as $steps
		| ($steps[:$max][] | (.urn | split("::")) as $u
			| "| \(.op | clean) | `\($u[3] // "?" | clean)` | `\($u[2] // "?" | split("$") | last | clean)` | \(
				[(.diffReasons // []), (.replaceReasons // [])] | add | unique | map(clean) | join(", ")) |"),
		  (if ($steps | length) > $max then "| … | \(($steps | length) - $max) more | | |" else empty end)' "$1"
}

# body STACK PREVIEW_JSON COUNTS: the issue's body (or the comment's).
body() {
	local stack=$1 preview=$2 counts=$3 when run
	when=$(date -u +'%Y-%m-%d %H:%M UTC')
	run=${RUN_URL:-}
	cat <<EOF
**Drift in \`$stack\`** found on $when by the drift check (\`drift.yml\`)$([[ -z $run ]] || printf ' ([run](%s))' "$run"):
\`pulumi preview --refresh --expect-no-changes\` proposes changes: what AWS holds differs from
what the program and its state say.

Changes: $counts. Not checked: $NOT_CHECKED secret version(s) (refreshing one reads its value,
which the drift role may not).

| operation | resource | type | what differs |
| --- | --- | --- | --- |
$(rows "$preview")

Only names are listed, never values. To see the diff, with the running image (docs/runbook.md,
"Detect drift"): \`pulumi preview --refresh --expect-no-changes --diff --stack $stack\`.
Bring the change into the program, or let \`pulumi up\` (the next deploy) undo it; then close this
issue. While it is open, each night that still finds drift comments here.
EOF
}

# open_issue TITLE: "number url" of the open issue with the label and exactly this title, or "".
open_issue() {
	local list
	list=$(gh issue list --state open --label "$LABEL" --limit 100 --json number,title,url) || return 1
	jq -r --arg t "$1" '[.[] | select(.title == $t)] | first // empty | "\(.number) \(.url)"' <<<"$list"
}

main() {
	local stack work preview rc=0 n counts found number url title excluded excludes urns u not_checked
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
	check_stack "$stack"
	require_tools pulumi jq gh
	cd "$REPO_ROOT"
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expanded now, on purpose
	trap "rm -rf '$work'" EXIT
	preview=$work/preview.json

	step "Resources left out (their refresh reads a secret's value)"
	# The state's resources by type and URN only: its secrets stay encrypted (no --show-secrets),
	# and the file goes with the work directory.
	pulumi stack export --stack "$(stack_ref "$stack")" >"$work/state.json" ||
		die "cannot read the state of $stack (pulumi stack export); no issue was touched"
	excluded=$(jq -r --argjson types "$NOT_REFRESHED" \
		'.deployment.resources[]? | select(.type as $t | $types | index($t)) | .urn' "$work/state.json") ||
		die "cannot read the state of $stack (not the JSON of pulumi stack export); no issue was touched"
	rm -f "$work/state.json"
	excludes=()
	if [[ -n $excluded ]]; then
		mapfile -t urns <<<"$excluded"
		for u in "${urns[@]}"; do excludes+=(--exclude "$u"); done
	fi
	not_checked=$((${#excludes[@]} / 2))
	NOT_CHECKED=$not_checked
	log "  not checked: $not_checked secret version(s)"

	step "pulumi preview --refresh --expect-no-changes of $stack"
	# The JSON (stdout) is read for the summary; pulumi's messages (stderr) go to the log only.
	pulumi preview --refresh --expect-no-changes --json --stack "$(stack_ref "$stack")" \
		--message "nightly drift check of $stack" "${excludes[@]}" >"$preview" || rc=$?
	set_output not_checked "$not_checked"
	if ((rc == 0)); then
		log "no drift: $stack matches the program (not checked: $not_checked secret version(s))"
		set_output drift false
		return 0
	fi
	# The count into a variable first: inside (( )) its failure would be lost.
	if ! jq -e 'type == "object"' "$preview" >/dev/null 2>&1 || ! n=$(changed "$preview") || ((n == 0)); then
		set_output drift false
		die "the preview of $stack failed (exit $rc) without proposing changes: not drift, an error (see above); no issue was touched"
	fi

	counts=$(counts "$preview")
	log "drift in $stack: $counts"
	rows "$preview" >&2
	body "$stack" "$preview" "$counts" >"$work/body.md"

	title="Drift: $stack"
	found=$(open_issue "$title") || die "cannot list the open issues labelled $LABEL (gh issue list); no issue was touched"
	if [[ -n $found ]]; then
		read -r number url <<<"$found"
		gh issue comment "$number" --body-file "$work/body.md" >/dev/null ||
			die "cannot comment on issue #$number ($url)"
		log "commented on #$number: $url"
	else
		# The label may not exist yet: created once (an existing one is left as it is).
		gh label create "$LABEL" --color B60205 --description "A stack differs from the program (nightly drift check)" >/dev/null 2>&1 || true
		url=$(gh issue create --title "$title" --label "$LABEL" --body-file "$work/body.md") ||
			die "cannot create the issue \"$title\""
		url=$(tail -n 1 <<<"$url")
		log "opened $url"
	fi

	set_output drift true
	set_output issue "$url"
	set_output summary "$counts"
	if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
		{
			printf '## Drift in %s\n\n%s: %s\n\n' "$stack" "$url" "$counts"
		} >>"$GITHUB_STEP_SUMMARY"
	fi
	printf '%s\n' "$url"
}

main "$@"
