# shellcheck shell=bash
# Helpers shared by deploy.sh, create-environment.sh and destroy-environment.sh. Sourced, never
# run. Every message goes to stderr, so that a script's stdout carries only what a caller may
# capture (e.g. `deploy.sh --running-image dev`). No helper ever prints a secret value.

# Associative arrays and empty arrays under `set -u` need bash 4.4 (macOS ships 3.2: brew install bash).
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
	printf 'error: these scripts need bash 4.4 or later; this is %s\n' "$BASH_VERSION" >&2
	exit 1
fi

# A command substitution runs with errexit too (assignments such as `x=$(f)`): a failing command
# inside f stops f instead of being followed by the rest of it.
shopt -s inherit_errexit

# The stacks of this program, one per environment (README: dev is the `development` environment).
KNOWN_STACKS=(dev staging production)

# shellcheck disable=SC2034 # used by the scripts that source this file
# The checkout's root: Pulumi runs the program from the directory that holds Pulumi.yaml.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Seconds between polls of a long operation. The tests set 0.
POLL_SECONDS=${POLL_SECONDS:-15}

log() { printf '%s\n' "$*" >&2; }
step() { printf '\n==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	# The last external call failed: its own message is the cause, whatever this one guessed.
	if [[ -n ${RUN_DIR:-} && -s $RUN_DIR/cause ]]; then
		printf '  cause: %s\n' "$(<"$RUN_DIR/cause")" >&2
	fi
	DIED=1
	exit 1
}

# type -P, not command -v: the latter also finds the wrapper functions below (external).
require_tools() {
	local tool
	for tool in "$@"; do
		type -P "$tool" >/dev/null 2>&1 || die "$tool is not installed or not on PATH"
	done
}

# --- failures: their cause, and where a run stands -----------------------------------------------

# external TOOL ARG...: runs TOOL (a CLI: aws, pulumi, curl, skopeo) and, when it fails, keeps the
# last line of its error output in RUN_DIR/cause ("aws ecs run-task exited 254: An error occurred
# (ExpiredTokenException) ..."), which die and the failure report print: the tool's own cause, not
# a guess. A success empties it. A file, not a variable: calls often run in a command
# substitution's subshell. The error output still reaches stderr, after the call.
external() {
	local tool=$1 err rc=0 lines=() i
	shift
	err="$RUN_DIR/stderr.$BASHPID"
	command "$tool" "$@" 2>"$err" || rc=$?
	# Builtins only (mapfile, printf): a deploy makes dozens of calls.
	mapfile -t lines <"$err"
	((${#lines[@]} == 0)) || printf '%s\n' "${lines[@]}" >&2
	if ((rc == 0)); then
		: >"$RUN_DIR/cause"
		return 0
	fi
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		[[ ${lines[i]} =~ [^[:space:]] ]] && break
	done
	printf '%s exited %d: %s\n' "$tool${1:+ $1}${2:+ $2}" "$rc" "${lines[i]:-(no error message)}" >"$RUN_DIR/cause"
	return "$rc"
}

# cause_is TEXT: the last external call failed with TEXT in its message (e.g. an AWS error code).
cause_is() { [[ -n ${RUN_DIR:-} && -s $RUN_DIR/cause ]] && grep -qF -- "$1" "$RUN_DIR/cause"; }

# cause_clear: a failure that was dealt with (warned about) is not the cause of a later one.
cause_clear() { [[ -z ${RUN_DIR:-} ]] || : >"$RUN_DIR/cause"; }

# Where a run stands, for the report of a failure: the step it is in, what has changed so far and
# the command that gets back. Each step of a script that changes something sets them (at_step,
# now_state) before it acts, so that any failure in it, foreseen (die) or not (errexit), ends with
# all three.
AT_STEP="" STATE_NOW="" RECOVERY="" DIED=""
at_step() { AT_STEP=$1 STATE_NOW=$2 RECOVERY=$3; }
now_state() { STATE_NOW=$1; }

# track_failures: from here on, the CLIs' causes are kept (wrap them: `aws() { external aws "$@"; }`)
# and a failed run ends with where it stands. Once, by the script, in the main shell.
track_failures() {
	RUN_DIR=$(mktemp -d)
	trap report_failure EXIT
}

report_failure() {
	local rc=$?
	if ((rc != 0)) && [[ -n $AT_STEP ]]; then
		{
			printf '\nerror: stopped at: %s\n' "$AT_STEP"
			# die has said it already; an unforeseen failure (errexit) has not.
			if [[ -z $DIED && -s $RUN_DIR/cause ]]; then printf '  cause: %s\n' "$(<"$RUN_DIR/cause")"; fi
			printf '  where things stand: %s\n' "$STATE_NOW"
			printf '  to get back: %s\n' "$RECOVERY"
		} >&2
	fi
	rm -rf "$RUN_DIR"
	exit "$rc"
}

# check_stack STACK: refuses a name that is not one of the program's stacks, before anything runs.
check_stack() {
	local known
	for known in "${KNOWN_STACKS[@]}"; do
		[[ $1 == "$known" ]] && return 0
	done
	die "unknown stack \"$1\"; want one of: ${KNOWN_STACKS[*]}"
}

# check_tag TAG: the rule the program applies to taskmanager:compute.imageTag (infra/compute),
# checked here too so that a bad tag fails before the migration task runs.
check_tag() {
	[[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$ && $1 != latest ]] ||
		die "\"$1\" is not an image tag this program deploys: 1 to 128 letters, digits, '.', '_' or '-', not \"latest\" (tags are immutable), e.g. main-abc1234 or v1.2.3"
}

# stack_ref STACK: the name Pulumi knows the stack by; org/stack when PULUMI_ORG is set.
stack_ref() { printf '%s' "${PULUMI_ORG:+$PULUMI_ORG/}$1"; }

# Every Pulumi call names its stack (--stack), so that a script never acts on whichever stack
# happens to be selected in the operator's workspace.

# stack_outputs STACK: the stack's outputs as JSON. Secret outputs stay masked (no --show-secrets).
stack_outputs() { pulumi stack output --json --stack "$(stack_ref "$1")"; }

# config_get STACK KEY: one value of the stack's config (a path such as taskmanager:api.containerPort).
config_get() { pulumi config get --path "$2" --stack "$(stack_ref "$1")"; }

# output JSON KEY: one output as text (lists joined by commas), empty when the stack has none.
output() {
	jq -r --arg k "$2" '.[$k] // empty | if type == "array" then join(",") else tostring end' <<<"$1"
}

# outputs_into ARRAY JSON KEY...: several outputs at once (one jq run: a deploy reads many, and
# each jq start costs), as output prints them, into ARRAY in the order of the keys.
outputs_into() {
	# Locals prefixed, so that none hides the caller's ARRAY from the name reference.
	local -n into=$1
	local _json=$2 _lines
	shift 2
	# A last line "." keeps the empty values at the end, which $(...) would strip.
	_lines=$(jq -r '(. as $o | $ARGS.positional[] | $o[.] // "" | if type == "array" then join(",") else tostring end), "."' \
		--args "$@" <<<"$_json") || return 1
	mapfile -t into <<<"$_lines"
	((${#into[@]} == $# + 1)) && [[ ${into[-1]} == . ]] || return 1
	unset 'into[-1]'
}

# retry_wait ROUNDS COMMAND...: an AWS CLI waiter gives up after a fixed time (tasks-stopped and
# services-stable after 10 minutes, db-snapshot-available after 30); a long migration or a large
# snapshot takes longer, so the waiter is run again, up to ROUNDS times.
retry_wait() {
	local rounds=$1 i
	shift
	for ((i = 1; i <= rounds; i++)); do
		"$@" && return 0
		((i < rounds)) && log "  still waiting ($i/$rounds)"
	done
	return 1
}

# services_table CLUSTER SERVICE...: one tab-separated line per service: name, the task definition
# it runs, rollout state of the newest deployment, running count, desired count. A blue/green
# service (CodeDeploy: production's API) runs its PRIMARY task set's task definition, the one that
# takes the traffic; its own taskDefinition field can name another.
services_table() {
	local cluster=$1
	shift
	# The backticks are JMESPath's literal quotes, not a shell expansion.
	# shellcheck disable=SC2016
	aws ecs describe-services --cluster "$cluster" --services "$@" \
		--query 'services[].[serviceName,(taskSets[?status==`PRIMARY`].taskDefinition | [0]) || taskDefinition,deployments[0].rolloutState,runningCount,desiredCount]' \
		--output text
}

# service_task_definition CLUSTER SERVICE: the task definition the service runs now.
service_task_definition() {
	local line
	line=$(services_table "$1" "$2") || return 1
	line=$(cut -f2 <<<"$line")
	[[ $line == arn:* ]] || return 1
	printf '%s' "$line"
}

# task_set_shape CLUSTER SERVICE: what a blue/green service's PRIMARY task set runs (the service's
# own settings where it has no task set), as one line of JSON with sorted lists: the task
# definition, the subnets, the security groups and the capacity provider. `pulumi up` leaves all
# four to CodeDeploy there (infra/compute's CodeDeployOwned), so a deployment is due when any
# differs from the stack's.
task_set_shape() {
	local json
	json=$(aws ecs describe-services --cluster "$1" --services "$2" --output json) || return 1
	jq -ce '.services[0] | ((.taskSets // []) | map(select(.status == "PRIMARY")) | .[0] // {}) as $ts
		| (($ts.networkConfiguration // .networkConfiguration // {}).awsvpcConfiguration // {}) as $net
		| {taskDefinition: ($ts.taskDefinition // .taskDefinition),
		   subnets: (($net.subnets // []) | sort), securityGroups: (($net.securityGroups // []) | sort),
		   capacityProvider: ((($ts.capacityProviderStrategy // .capacityProviderStrategy // [])[0].capacityProvider) // "")}
		| select(.taskDefinition != null)' <<<"$json"
}

# task_definition_image TASK_DEFINITION CONTAINER: the image of one container. An empty answer is
# an error with every jq: jq 1.7 exits 4 on it, but jq 1.6's -e passes when there is no input.
task_definition_image() {
	local image
	image=$(aws ecs describe-task-definition --task-definition "$1" --output json |
		jq -er --arg c "$2" '.taskDefinition.containerDefinitions[] | select(.name == $c) | .image') || return 1
	[[ -n $image ]] || return 1
	printf '%s\n' "$image"
}

# running_image CLUSTER SERVICE: the image the service runs now (its container has its name).
running_image() {
	local td
	td=$(service_task_definition "$1" "$2") || return 1
	task_definition_image "$td" "$2"
}

# register_copy TASK_DEFINITION [CONTAINER IMAGE]: registers a new revision of a task definition,
# the same in every field (tags included) except CONTAINER's image when one is given, and prints
# its ARN. Used to run the migrations with the new image before Pulumi moves the services to it,
# and to roll a service back to a revision that Pulumi has since deregistered (ECS refuses to
# point a service at an INACTIVE revision).
register_copy() {
	local source=$1 container=${2:-} image=${3:-} described input
	described=$(aws ecs describe-task-definition --task-definition "$source" --include TAGS --output json) || return 1
	# Only the fields RegisterTaskDefinition accepts: the rest are ECS's own bookkeeping.
	input=$(jq -c --arg c "$container" --arg i "$image" '
		(.tags // []) as $tags
		| .taskDefinition
		| del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
			.registeredAt, .registeredBy, .deregisteredAt)
		| if $c == "" then .
		  elif any(.containerDefinitions[]; .name == $c) then
			.containerDefinitions |= map(if .name == $c then .image = $i else . end)
		  else error("the task definition has no container named \($c)")
		  end
		| if ($tags | length) > 0 then .tags = $tags else . end' <<<"$described") || return 1
	aws ecs register-task-definition --cli-input-json "$input" \
		--query 'taskDefinition.taskDefinitionArn' --output text
}

# feed TEXT COMMAND...: runs COMMAND with TEXT on its stdin, through a pipe: never a file, never a
# command line (a password, a token). The status is COMMAND's: one that exits before reading it
# all (failing) must not turn into the writer's SIGPIPE, nor the writer's into a failure.
feed() {
	local text=$1
	shift
	{
		trap '' PIPE
		printf '%s' "$text" || true
	} | "$@"
}

# confirm PROMPT EXPECTED: asks on stderr and reads one line from stdin; true only when the
# answer is exactly EXPECTED. End of input counts as "no".
confirm() {
	local answer=""
	printf '%s ' "$1" >&2
	IFS= read -r answer || true
	# A terminal echoes the answer and its newline; piped input does not: end the prompt's line.
	[[ -t 0 ]] || printf '\n' >&2
	[[ $answer == "$2" ]]
}

# --- production from a person's machine ---------------------------------------------------------

# The flag with which a person says they mean production (deploy.sh, create-environment.sh).
PRODUCTION_FLAG=--i-mean-production

# in_ci: true in CI. GitHub Actions sets CI=true, and production's pipeline job is bound to the
# GitHub environment "production" (required reviewers): that approval is the intent there.
in_ci() { [[ ${CI:-} == true ]]; }

# require_production_flag STACK GIVEN: outside CI, production needs PRODUCTION_FLAG (GIVEN is 1 when
# it was passed). Called before anything runs, so that a refusal has changed nothing.
require_production_flag() {
	[[ $1 == production ]] || return 0
	in_ci && return 0
	[[ $2 == 1 ]] && return 0
	die "refusing production outside CI (CI is not \"true\"; production's deploys go through release.yml)." \
		"To change production from this machine, pass $PRODUCTION_FLAG: you are then shown the preview and asked to type the stack's name at the terminal." \
		"Nothing was changed"
}

# has_terminal: the process has a controlling terminal to ask a person on.
has_terminal() { (exec </dev/tty) 2>/dev/null; }

# production_gate STACK SHOW...: outside CI, production goes on only once the person has been shown
# what will change (SHOW..., a command: the preview) and has then typed the stack's name. The
# answer is read from the terminal (/dev/tty), never from stdin: piped or scripted input is not a
# person's intent. No terminal, no production. Other stacks, and CI, pass at once.
production_gate() {
	local stack=$1 answer=""
	shift
	[[ $stack == production ]] || return 0
	in_ci && return 0
	has_terminal || die "no terminal to confirm production on (the stack's name is asked at /dev/tty, not on stdin); nothing was changed in production"
	"$@" || die "could not show what changes in $stack; nothing was changed in production"
	printf '\n%s ' "The above is what changes in $stack. Type the stack's name ($stack) to go on:" >&2
	IFS= read -r answer </dev/tty || true
	# The terminal echoed the answer; stderr elsewhere (a log) still gets the prompt's line ended.
	[[ -t 2 ]] || printf '\n' >&2
	[[ $answer == "$stack" ]] || die "aborted: the name typed is not \"$stack\"; nothing was changed in production"
	log "  confirmed at the terminal: $stack"
}
