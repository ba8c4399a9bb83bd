#!/usr/bin/env bash
# Deploys an image tag to one stack: database migrations with the new image first, then the
# services. What the pipeline runs for every environment and what create-environment.sh calls.
# docs/runbook.md explains the order; `scripts/deploy.sh --help` lists the modes.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The CLIs a deploy calls keep their error's cause for the failure report (lib.sh: external).
aws() { external aws "$@"; }
pulumi() { external pulumi "$@"; }
curl() { external curl "$@"; }
skopeo() { external skopeo "$@"; }

usage() {
	cat <<'EOF'
Usage:
  scripts/deploy.sh [options] <stack> <image-tag>   deploy <image-tag> (or "current") to <stack>
  scripts/deploy.sh --smoke-test <stack>            check the deployed stack answers
  scripts/deploy.sh --rollback <stack>              put the services back on the task definitions
                                                    they ran before the last deploy from this checkout
                                                    (its rollback plan); fails, moving nothing, when
                                                    the plan lacks a service, and fails unless every
                                                    service ends on what it ran before
  scripts/deploy.sh --running-image <stack>         print the image the stack's worker runs now
  scripts/deploy.sh --restart <stack>               start new tasks of every service on the task
                                                    definitions they run (a forced deployment; for
                                                    production's API a CodeDeploy deployment), so
                                                    that they read the secrets' current values

<stack> is dev, staging or production. <image-tag> must exist in the stack's repository
(taskmanager-<stack>); "current" redeploys the tag the stack runs now (an infrastructure change).

Production outside CI (CI is not "true"): a deploy, a rollback or a restart is refused unless you pass
--i-mean-production; then, before anything changes, it shows the preview (pulumi preview of
production with the image it runs now, and the image change; for --rollback, what it puts back)
and asks you to type "production" at the terminal (/dev/tty; with no terminal it refuses). In CI
(GitHub sets CI=true) production's approval is the GitHub environment's reviewers.

A deploy:
  1. checks the image is in the repository and its scan has no finding of a gated severity;
  2. registers a copy of the migrations task definition with the new image, runs it
     (aws ecs run-task) and waits: a non-zero exit code stops the deploy, nothing else changes.
     The container first checks that /tmp is writable for its user (read-only root filesystem,
     /tmp a task volume): if not, the deploy stops there, naming the fix (README, "Image contract");
  3. pulumi config set taskmanager:compute.imageTag <tag>, then pulumi up: new task definitions;
     rolling services (all of dev and staging, production's worker) move to them;
  4. waits until the services are stable on the new task definitions (a deployment the ECS
     circuit breaker rolled back is a failure);
  5. production's API (CodeDeploy controller): when the new task definition is not the one its
     PRIMARY task set runs, creates a CodeDeploy blue/green deployment of it and waits until all
     traffic is on it (canary 10% for 15 minutes).
Before step 1 it records what the services run (the rollback plan, DEPLOY_STATE_DIR/<stack>.env),
or stops. A failure ends with the step, the CLI's own error, where things stand and how to get back.

The smoke test checks that both services run their deployed task definitions with all their tasks,
then (staging, production) GET <url><health path> through the load balancer; where the stack has
an alert topic (output alertTopicArn: production) it also reports each e-mail subscription still
PendingConfirmation: such an address gets no alarm until it confirms (a warning, not a failure).

A restart (--restart) changes no task definition, image or config: ECS reads a secret only when it
starts a task, and the task definitions name the secrets without a version, so after a secret's
value changes (a person-supplied one: pulumi config set --secret, then pulumi up) nothing restarts
by itself. The rolling services get `aws ecs update-service --force-new-deployment` and are waited
for; production's API (CodeDeploy) gets a blue/green deployment of the task definition its PRIMARY
task set runs (canary 10% for 15 minutes). No migration runs.

Options:
  --promote-from IMAGE    first copy IMAGE (e.g. <dev registry>/taskmanager-dev:main-abc1234, the
                          same digest) into the stack's repository as <image-tag>; needs skopeo,
                          logged in to IMAGE's registry
  --skip-migrations       do not run the migrations (redeploying an older tag: its migrations
                          cannot run against a newer schema). Say why in the deploy message.
                          The migration task still runs the /tmp check of step 2, alone.
  --wait-for-termination  production: wait until CodeDeploy has removed the old tasks (the end
                          of the one-hour rollback window) instead of until traffic has shifted
  --i-mean-production     production outside CI: go on to the preview and the typed confirmation
  -h, --help              this help

Environment:
  PULUMI_ORG              Pulumi organisation of the stacks (default: your default org)
  DEPLOY_STATE_DIR        where the previous task definitions are recorded for --rollback
                          (default build/deploy)
  SCAN_FAIL_ON            image-scan severities that stop a deploy (default CRITICAL; e.g. CRITICAL,HIGH)
  SKOPEO_SRC_AUTHFILE     skopeo's login file for --promote-from's registry (default: skopeo's own)
  POLL_SECONDS            seconds between polls (default 15)
  WAIT_ROUNDS             rounds of the AWS CLI waiters, 10 minutes each (default 3)
  CODEDEPLOY_TIMEOUT_MINUTES  how long to follow a CodeDeploy deployment (default 120)
EOF
}

STATE_DIR=${DEPLOY_STATE_DIR:-$REPO_ROOT/build/deploy}
MIGRATIONS_CONTAINER=migrations
# The user every container runs as (infra/compute: ContainerUser), with a read-only root filesystem.
CONTAINER_USER=1000:1000
# What the migration container runs before its command: /tmp, a task volume, must be writable for
# the containers' user (gunicorn's worker temp files, Python's tempfile). Fargate creates the volume
# owned by root, 0755, unless the image declares VOLUME /tmp owned by that user. Exit code
# TMP_CHECK_EXIT tells this failure from the migrations' own.
TMP_CHECK_EXIT=97
# $(...) and $t are the container shell's, not this one's.
# shellcheck disable=SC2016
TMP_CHECK='t=$(mktemp -p /tmp) && rm -f "$t" || { echo "TMP_NOT_WRITABLE: /tmp is not writable for uid $(id -u) in this image; declare VOLUME /tmp owned by $(id -u):$(id -g) (see README, Image contract)" >&2; exit '$TMP_CHECK_EXIT'; }'
# Rounds of the AWS CLI waiters (10 minutes each for tasks-stopped and services-stable).
WAIT_ROUNDS=${WAIT_ROUNDS:-3}

# --- the record of a deploy, for --rollback ---------------------------------------------------

state_file() { printf '%s/%s.env' "$STATE_DIR" "$1"; }

state_put() {
	mkdir -p "$STATE_DIR"
	printf '%s=%s\n' "$2" "$3" >>"$(state_file "$1")"
}

state_get() {
	local file
	file=$(state_file "$1")
	[[ -f $file ]] || return 0
	sed -n "s/^$2=//p" "$file" | tail -n 1
}

# record_previous STACK CLUSTER: what the services run before this deploy, so that --rollback
# can put them back even after Pulumi has replaced (and deregistered) those task definitions.
# Both services or nothing: a deploy whose plan cannot be recorded stops here, before anything
# moves. The previous record goes first, so that --rollback never acts on an older deploy's plan.
record_previous() {
	local stack=$1 cluster=$2 file table svc td plan=""
	file=$(state_file "$stack")
	mkdir -p "$STATE_DIR"
	rm -f "$file"
	table=$(services_table "$cluster" api worker) ||
		die "cannot read which task definitions the services of $cluster run, so no rollback plan could be recorded; nothing was changed"
	for svc in api worker; do
		td=$(awk -F'\t' -v n="$svc" '$1 == n { print $2 }' <<<"$table")
		[[ $td == arn:* ]] ||
			die "cannot tell which task definition $svc runs in $cluster (aws ecs describe-services answered \"${table//$'\n'/; }\"), so no rollback plan could be recorded; nothing was changed"
		plan+="previous_$svc=$td"$'\n'
	done
	printf '%s' "$plan" >"$file.new"
	mv "$file.new" "$file"
	log "  rollback plan: $file"
}

# --- the image ----------------------------------------------------------------------------------

# promote_image SOURCE REPOSITORY_URL TAG: copies the same digest into this stack's repository.
# Images are built once; a later environment gets exactly the bytes the earlier one tested.
promote_image() {
	local source=$1 repo_url=$2 tag=$3 target existing source_digest password src_auth=() dest_auth=()
	target="$repo_url:$tag"
	require_tools skopeo
	# The source registry's login may be kept apart (the pipeline logs in to it with another
	# role): with one account both repositories are in the same registry, and one login would
	# replace the other.
	if [[ -n ${SKOPEO_SRC_AUTHFILE:-} ]]; then
		src_auth=(--src-authfile "$SKOPEO_SRC_AUTHFILE")
		dest_auth=(--authfile "$SKOPEO_SRC_AUTHFILE")
	fi
	source_digest=$(skopeo inspect "${dest_auth[@]}" --format '{{.Digest}}' "docker://$source") ||
		die "cannot read the digest of $source (skopeo inspect)"
	# Only "no such image" means the tag is free; any other error (an expired token) stops here.
	if ! existing=$(aws ecr describe-images --repository-name "${repo_url#*/}" --image-ids "imageTag=$tag" \
		--query 'imageDetails[0].imageDigest' --output text 2>/dev/null); then
		cause_is ImageNotFoundException || die "cannot tell whether $target exists (aws ecr describe-images)"
		existing=""
	fi
	if [[ -n $existing && $existing != None ]]; then
		# Tags are immutable: the tag may only already name the very same image.
		[[ $existing == "$source_digest" ]] ||
			die "$target already exists with digest $existing, not $source_digest ($source); tags are immutable: deploy a new tag"
		log "$target already holds $source_digest"
		return 0
	fi
	step "Promoting $source ($source_digest) to $target"
	# The password is kept in a variable and reaches skopeo on stdin: never on a command line, never
	# printed. Two steps, not a pipeline, so that a failure names the call that failed.
	password=$(aws ecr get-login-password) || die "cannot get a login password for ${repo_url%%/*} (aws ecr get-login-password)"
	feed "$password" skopeo login --username AWS --password-stdin "${repo_url%%/*}" >/dev/null ||
		die "cannot log skopeo in to ${repo_url%%/*} (skopeo login)"
	skopeo copy --all --preserve-digests "${src_auth[@]}" "docker://$source" "docker://$target" >&2 ||
		die "could not copy $source to $target (skopeo copy)"
}

# check_image REPOSITORY_URL TAG: the image must exist, and its scan (scan on push) must show no
# finding of a severity in SCAN_FAIL_ON: the image-scan half of the pipeline's security gate.
check_image() {
	local repo=${1#*/} tag=$2 status counts verdict lines=()
	step "Checking image $repo:$tag"
	if ! status=$(aws ecr describe-images --repository-name "$repo" --image-ids "imageTag=$tag" \
		--query 'imageDetails[0].imageScanStatus.status' --output text); then
		cause_is ImageNotFoundException ||
			die "cannot read the image $repo:$tag from ECR (aws ecr describe-images)"
		die "image $repo:$tag is not in the repository: push it (CI pushes main-<sha>) or promote it with --promote-from, then deploy again"
	fi
	case $status in
	COMPLETE | ACTIVE) ;;
	FAILED | UNSUPPORTED_IMAGE | SCAN_ELIGIBILITY_EXPIRED | FINDINGS_UNAVAILABLE)
		die "the scan of $repo:$tag ended $status: no findings to gate on; rescan it (aws ecr start-image-scan) first"
		;;
	*)
		log "  waiting for the image scan ($status)"
		retry_wait "$WAIT_ROUNDS" aws ecr wait image-scan-complete --repository-name "$repo" --image-id "imageTag=$tag" ||
			die "the scan of $repo:$tag did not complete"
		;;
	esac
	counts=$(aws ecr describe-image-scan-findings --repository-name "$repo" --image-id "imageTag=$tag" \
		--query 'imageScanFindings.findingSeverityCounts' --output json) ||
		die "cannot read the scan findings of $repo:$tag (aws ecr describe-image-scan-findings)"
	[[ -n $counts && $counts != null ]] || counts='{}'
	# One jq run: the gated severities found (" CRITICAL=2 HIGH=1", or empty), then all the counts.
	verdict=$(jq -r --arg gate "${SCAN_FAIL_ON:-CRITICAL}" '. as $c
		| ([$gate | split(",")[] | select(($c[.] // 0) > 0) | " \(.)=\($c[.])"] | join("")), tojson' <<<"$counts") ||
		die "cannot read the scan findings of $repo:$tag (not JSON: $counts)"
	mapfile -t lines <<<"$verdict"
	[[ -z ${lines[0]} ]] ||
		die "the scan of $repo:$tag found${lines[0]} (aws ecr describe-image-scan-findings --repository-name $repo --image-id imageTag=$tag); fix the image, or change SCAN_FAIL_ON with a reason"
	log "  scan findings: ${lines[1]}"
}

# --- migrations -----------------------------------------------------------------------------------

# run_migrations CLUSTER FAMILY IMAGE SUBNETS SECURITY_GROUP TAG [check-only]
# Pulumi registers the migrations task definition together with the services' ones and rolls the
# services in the same `pulumi up`, so the migrations cannot wait for it: the new image runs
# from a copy of the current migrations task definition (same roles, secrets, logs, network),
# registered here and deregistered after the run. ECS run-task overrides cannot change an image.
# The container first checks /tmp (TMP_CHECK), then runs its own command; "check-only" (with
# --skip-migrations) runs the check alone.
run_migrations() {
	local cluster=$1 family=$2 image=$3 subnets=$4 sg=$5 tag=$6 what=${7:-migrations} td overrides
	# why: set by migrate when the run fails, the message of this step's failure. cause: the
	# failed call's, kept across the clean-up below.
	local why="" cause=""
	if [[ $what == check-only ]]; then
		step "Checking /tmp in $image ($family, without the migrations)"
	else
		step "Migrations: $family with $image"
	fi
	now_state "no service moved and no migration ran"
	td=$(register_copy "$family" "$MIGRATIONS_CONTAINER" "$image") ||
		die "could not register a migrations task definition for $image"
	log "  registered $td for this run"
	if overrides=$(tmp_check_overrides "$td" "$what"); then
		migrate "$cluster" "$td" "$subnets" "$sg" "$tag" "$overrides" || true
	else
		why="cannot read the $MIGRATIONS_CONTAINER container's command in $td"
	fi
	[[ -z $why ]] || cause=$(<"$RUN_DIR/cause")
	# The copy is this run's only: Pulumi registers its own revision with the same image next.
	if ! aws ecs deregister-task-definition --task-definition "$td" --query 'taskDefinition.status' --output text >/dev/null; then
		warn "could not deregister $td; deregister it by hand"
		cause_clear
	fi
	[[ -n $why ]] || return 0
	printf '%s' "$cause" >"$RUN_DIR/cause"
	[[ $why != TMP_NOT_WRITABLE ]] ||
		die "the image $image cannot write /tmp as the containers' user $CONTAINER_USER (TMP_NOT_WRITABLE: the migration task's /tmp check exited $TMP_CHECK_EXIT)." \
			"The root filesystem is read-only and /tmp is a task volume, which Fargate creates owned by root unless the image declares it:" \
			"build the image with \`RUN mkdir -p /tmp && chown $CONTAINER_USER /tmp\` (as root) followed by \`VOLUME /tmp\` (README, \"Image contract\")." \
			"Nothing was deployed: the services were not updated and still run the previous image"
	die "$why"
}

# tmp_check_overrides TASK_DEFINITION [check-only]: aws ecs run-task --overrides for the migration
# container: `sh -c` runs TMP_CHECK, then execs the task definition's own command (its arguments
# as they are: no quoting), or with "check-only" nothing after the check.
tmp_check_overrides() {
	local td=$1 what=${2:-migrations} command='[]'
	if [[ $what != check-only ]]; then
		command=$(aws ecs describe-task-definition --task-definition "$td" --output json |
			jq -ec --arg c "$MIGRATIONS_CONTAINER" '.taskDefinition.containerDefinitions[]
				| select(.name == $c) | .command | select(type == "array" and length > 0)') || return 1
	fi
	jq -cn --arg c "$MIGRATIONS_CONTAINER" --arg check "$TMP_CHECK" --argjson command "$command" '
		{containerOverrides: [{name: $c,
			command: (["sh", "-c", $check + (if $command == [] then "" else "; exec \"$@\"" end), "tmp-check"] + $command)}]}'
}

# migrate CLUSTER TASK_DEFINITION SUBNETS SECURITY_GROUP TAG OVERRIDES: runs the migration task and
# waits for it. On failure it sets its caller's why (the message) and the run's state, and returns 1.
migrate() {
	local cluster=$1 td=$2 subnets=$3 sg=$4 tag=$5 overrides=$6 task started line code reason family by log_cmd
	family=${td##*/}
	family=${family%:*}
	# startedBy (to find the task later): at most 36 letters, digits, '-', '_' or '/'.
	by="deploy-${tag//[^A-Za-z0-9_-]/_}"
	if ! started=$(aws ecs run-task --cluster "$cluster" --task-definition "$td" --launch-type FARGATE --count 1 \
		--network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$sg],assignPublicIp=DISABLED}" \
		--overrides "$overrides" \
		--started-by "${by:0:36}" --propagate-tags TASK_DEFINITION \
		--query '[tasks[0].taskArn, failures[0].reason]' --output text); then
		why="ECS did not start the migration task (aws ecs run-task failed): the migrations did not run"
		return 1
	fi
	IFS=$'\t' read -r task reason <<<"$started"
	if [[ $task != arn:* ]]; then
		why="ECS did not start the migration task (aws ecs run-task returned no task: ${reason:-no reason given}): the migrations did not run"
		return 1
	fi
	log_cmd="aws logs tail /ecs/$family --log-stream-name-prefix $MIGRATIONS_CONTAINER/$MIGRATIONS_CONTAINER/${task##*/}"
	now_state "no service moved; the migration task ${task##*/} was started and may still be running (aws ecs describe-tasks --cluster $cluster --tasks $task; its log: $log_cmd)"
	log "  started ${task##*/}; waiting for it to stop"
	if ! retry_wait "$WAIT_ROUNDS" aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"; then
		why="the migration task $task did not stop in $WAIT_ROUNDS rounds of aws ecs wait tasks-stopped, or its state could not be read; it was left running"
		return 1
	fi
	# The backticks are JMESPath's literal quotes, not a shell expansion.
	# shellcheck disable=SC2016
	if ! line=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
		--query 'tasks[0].[containers[?name==`migrations`].exitCode | [0], stoppedReason]' --output text); then
		why="cannot read how the migration task $task ended (aws ecs describe-tasks failed): read its log ($log_cmd) before deploying again"
		return 1
	fi
	IFS=$'\t' read -r code reason <<<"$line"
	if [[ $code == "$TMP_CHECK_EXIT" ]]; then
		now_state "no service moved; the migrations did not run (the /tmp check stopped the task first)"
		why=TMP_NOT_WRITABLE # run_migrations says what it means
		return 1
	fi
	if [[ -z $code || $code == None ]]; then
		now_state "no service moved; the migration task stopped before its container ran: the migrations did not run"
		why="the migration task stopped without running the migrations (${reason:-no reason given}); its log: $log_cmd"
		return 1
	fi
	if [[ $code != 0 ]]; then
		now_state "no service moved; the migrations failed: the schema is as far as they got (its log: $log_cmd)"
		why="the migrations failed: the migration task exited with code $code ($reason); its log: $log_cmd"
		return 1
	fi
	log "  the migration task exited 0"
}

# --- services -------------------------------------------------------------------------------------

wait_stable() {
	local cluster=$1
	shift
	step "Waiting for the services to be stable: $*"
	retry_wait "$WAIT_ROUNDS" aws ecs wait services-stable --cluster "$cluster" --services "$@" ||
		die "$* did not become stable; see aws ecs describe-services --cluster $cluster --services $*"
}

# verify_services CLUSTER NAME=TASK_DEFINITION...: each service runs the expected task definition
# ("*": any), its newest deployment has not failed, and all its tasks run. A deployment the circuit
# breaker rolled back is stable too, on the old task definition: this is what catches it.
verify_services() {
	local cluster=$1 kv name td state running desired table row bad=0
	shift
	local -A want=()
	local names=()
	for kv in "$@"; do
		want[${kv%%=*}]=${kv#*=}
		names+=("${kv%%=*}")
	done
	# Not "unhealthy": the check itself failed, and the message says so.
	table=$(services_table "$cluster" "${names[@]}") ||
		die "cannot read the services ${names[*]} of $cluster (aws ecs describe-services)"
	for name in "${names[@]}"; do
		row=$(awk -F'\t' -v n="$name" '$1 == n' <<<"$table")
		IFS=$'\t' read -r _ td state running desired <<<"$row" || true
		if [[ -z ${td:-} ]]; then
			log "  $name: no such service in $cluster"
			bad=1
		elif [[ ${want[$name]} != '*' && $td != "${want[$name]}" ]]; then
			log "  $name runs ${td##*/}, not ${want[$name]##*/}: its deployment failed and ECS rolled it back (circuit breaker); see its events: aws ecs describe-services --cluster $cluster --services $name"
			bad=1
		elif [[ $state == FAILED ]]; then
			log "  $name: its newest deployment FAILED"
			bad=1
		elif ((running < desired || desired == 0)); then
			log "  $name: $running of $desired tasks running"
			bad=1
		else
			log "  $name: $running/$desired tasks on ${td##*/}"
		fi
		td=""
	done
	return "$bad"
}

# --- CodeDeploy (production's API) ------------------------------------------------------------

# codedeploy_api STACK CLUSTER APPLICATION GROUP TASK_DEFINITION [restart]: a blue/green deployment of the
# API (10% for 15 minutes, then 100%; CodeDeploy rolls back on failure or on the alarms), with the
# stack's network and capacity provider in its AppSpec: `pulumi up` leaves those to CodeDeploy
# under the CODE_DEPLOY controller, so a replaced security group, a subnet or a capacity provider
# change reaches the service only here. Without "restart" it does nothing when the API already runs
# exactly that; with it, it deploys all the same (new tasks read the secrets' current values).
codedeploy_api() {
	local stack=$1 cluster=$2 app=$3 group=$4 td=$5 why=${6:-deploy} image shape current port provider outputs desired appspec revision id
	local -a net
	port=$(config_get "$stack" taskmanager:api.containerPort) || die "cannot read taskmanager:api.containerPort"
	# CodeDeploy gives the service the AppSpec's capacity provider strategy, and without one the
	# launch type: the service would drift from the program, whose strategy (infra/compute/
	# services.go) is the stack's capacity provider, weight 1, base 0.
	provider=$(config_get "$stack" taskmanager:compute.capacityProvider) || provider=""
	[[ -n $provider ]] || die "cannot read taskmanager:compute.capacityProvider"
	outputs=$(stack_outputs "$stack") || die "cannot read the outputs of stack $stack (pulumi stack output)"
	outputs_into net "$outputs" apiSubnetIds apiSecurityGroupId ||
		die "cannot read the outputs of stack $stack (not the JSON of pulumi stack output)"
	[[ -n ${net[0]} && -n ${net[1]} ]] ||
		die "stack $stack lacks the outputs apiSubnetIds and apiSecurityGroupId: its last pulumi up predates them; run it first"
	desired=$(jq -cn --arg td "$td" --arg subnets "${net[0]}" --arg sg "${net[1]}" --arg provider "$provider" \
		'{taskDefinition: $td, subnets: ($subnets | split(",") | sort), securityGroups: [$sg], capacityProvider: $provider}')
	# Task definitions, not images: an infrastructure change (`deploy.sh production current`)
	# registers a new API task definition with the same image, and it must be deployed too; and
	# the network and capacity provider, which no task definition holds.
	shape=$(task_set_shape "$cluster" api) ||
		die "cannot read what the API runs (its PRIMARY task set) in $cluster"
	current=$(jq -r .taskDefinition <<<"$shape")
	if [[ $shape == "$desired" && $why != restart ]]; then
		log "the API already runs ${td##*/} on the stack's network and capacity provider: no CodeDeploy deployment needed"
		return 0
	fi
	image=$(task_definition_image "$td" api) || die "cannot read the API's image in $td"
	step "CodeDeploy: $app/$group to ${td##*/}"
	# The AppSpec's only version is 0.0, which jq 1.6 would print as 0: it is spliced in as text,
	# around the resources jq builds (and escapes).
	appspec=$(jq -rn --arg port "$port" --argjson d "$desired" '
		[{TargetService: {Type: "AWS::ECS::Service", Properties: {
			TaskDefinition: $d.taskDefinition,
			LoadBalancerInfo: {ContainerName: "api", ContainerPort: ($port | tonumber)},
			CapacityProviderStrategy: [{Base: 0, CapacityProvider: $d.capacityProvider, Weight: 1}],
			NetworkConfiguration: {AwsvpcConfiguration: {
				Subnets: $d.subnets, SecurityGroups: $d.securityGroups, AssignPublicIp: "DISABLED"
			}}
		}}}]
		| "{\"version\":0.0,\"Resources\":\(tojson)}"') ||
		die "cannot build the AppSpec (taskmanager:api.containerPort \"$port\" is not a number?)"
	revision=$(jq -cn --arg c "$appspec" '{revisionType: "AppSpecContent", appSpecContent: {content: $c}}')
	if ! id=$(aws deploy create-deployment --application-name "$app" --deployment-group-name "$group" \
		--revision "$revision" --description "$why ${image##*:}" \
		--query deploymentId --output text); then
		cause_is DeploymentLimitExceededException &&
			die "CodeDeploy refused the deployment of ${td##*/}: another deployment of $app/$group is in progress (aws deploy list-deployments --application-name $app --deployment-group-name $group --include-only-statuses InProgress)"
		die "CodeDeploy refused the deployment of ${td##*/} (aws deploy create-deployment)"
	fi
	state_put "$stack" codedeploy_deployment "$id"
	now_state "$STATE_NOW; CodeDeploy deployment $id is moving the API from ${current##*/} to ${td##*/} (CodeDeploy rolls it back by itself on a failure or an alarm)"
	log "  deployment $id: https://console.aws.amazon.com/codesuite/codedeploy/deployments/$id"
	wait_codedeploy "$id"
}

# wait_codedeploy ID: until all traffic is on the new tasks (the deployment then waits out the
# rollback window, an hour, before it removes the old tasks and reports Succeeded), or until it
# succeeds with --wait-for-termination. Failed or Stopped means CodeDeploy rolled back.
wait_codedeploy() {
	local id=$1 line status shifted err deadline
	deadline=$((SECONDS + ${CODEDEPLOY_TIMEOUT_MINUTES:-120} * 60))
	while :; do
		line=$(aws deploy get-deployment --deployment-id "$id" \
			--query 'deploymentInfo.[status,instanceTerminationWaitTimeStarted,errorInformation.message]' --output text) ||
			die "cannot read CodeDeploy deployment $id (aws deploy get-deployment); it goes on without this script"
		IFS=$'\t' read -r status shifted err <<<"$line"
		case $status in
		Succeeded)
			log "  deployment $id succeeded"
			return 0
			;;
		Failed | Stopped)
			now_state "$STATE_NOW; CodeDeploy deployment $id ended $status: CodeDeploy keeps or puts the API back on the original tasks"
			die "CodeDeploy deployment $id ended $status (${err:-no message}); CodeDeploy keeps or puts the API back on the original tasks"
			;;
		esac
		if [[ $shifted == True && $WAIT_FOR_TERMINATION != 1 ]]; then
			log "  all traffic is on the new tasks; the original tasks stay for the one-hour rollback window, and CodeDeploy still rolls back on an alarm until then"
			return 0
		fi
		((SECONDS < deadline)) || die "CodeDeploy deployment $id is still $status after ${CODEDEPLOY_TIMEOUT_MINUTES:-120} minutes; it goes on without this script: follow it in the console"
		log "  $status"
		sleep "$POLL_SECONDS"
	done
}

# MAIN_BUILD is the tag shape of an image built from main: main-<the commit's sha, 7 to 40 hex>.
MAIN_BUILD='^main-[0-9a-f]{7,40}$'

# check_main_build WHAT TAG: refuses, before anything runs, a tag that is not main-<sha>.
check_main_build() {
	[[ $2 =~ $MAIN_BUILD ]] ||
		die "refusing to promote to staging: $1 \"$2\" is not an image built from main (main-<sha>, 7 to 40 hex digits); nothing was changed"
}

# --- modes ----------------------------------------------------------------------------------------

deploy() {
	local stack=$1 tag=$2 outputs cluster repo_url family subnets sg app group api_td worker_td image \
		again back rolling api_note="" values=()
	check_stack "$stack"
	[[ $tag == current ]] || check_tag "$tag"
	# Staging is promoted only images built from main (the application's CI tags them main-<sha>):
	# a branch's or a hand-made image never reaches staging, and so never production.
	if [[ $stack == staging && -n $PROMOTE_FROM ]]; then
		check_main_build "the tag" "$tag"
		check_main_build "the promoted image's tag" "${PROMOTE_FROM##*:}"
	fi
	require_tools pulumi aws jq
	cd "$REPO_ROOT"
	again="fix the cause, then run the deploy again: $INVOCATION"
	at_step "reading the outputs of stack $stack" "nothing has changed" "$again"

	step "Reading the outputs of stack $stack"
	outputs=$(stack_outputs "$stack") || die "cannot read the outputs of stack $stack (pulumi stack output)"
	outputs_into values "$outputs" clusterName repositoryUrl migrationsTaskFamily migrationsSubnetIds \
		migrationsSecurityGroupId codeDeployApplication codeDeployDeploymentGroup ||
		die "cannot read the outputs of stack $stack (not the JSON of pulumi stack output)"
	cluster=${values[0]} repo_url=${values[1]} family=${values[2]} subnets=${values[3]} sg=${values[4]}
	app=${values[5]} group=${values[6]}
	[[ -n $cluster && -n $repo_url && -n $family && -n $subnets && -n $sg ]] ||
		die "stack $stack lacks the outputs a deploy needs (clusterName, repositoryUrl, migrations*): create it first with scripts/create-environment.sh $stack"

	if [[ $tag == current ]]; then
		image=$(running_image "$cluster" worker) || die "cannot tell which image $stack runs; give a tag"
		tag=${image##*:}
		log "the stack runs $tag: redeploying it"
	fi
	check_tag "$tag"
	image="$repo_url:$tag"

	# Production outside CI: the preview, then the stack's name typed at the terminal.
	at_step "the preview and confirmation of $stack" "nothing has changed" "$again"
	production_gate "$stack" deploy_preview "$stack" "$cluster" "$tag"

	at_step "recording the rollback plan ($(state_file "$stack"))" "nothing has changed" "$again"
	record_previous "$stack" "$cluster"
	if [[ -n $PROMOTE_FROM ]]; then
		at_step "copying $PROMOTE_FROM to $image" \
			"no migration ran and no service moved; $image may exist already (a copy of the same digest is kept as it is)" "$again"
		promote_image "$PROMOTE_FROM" "$repo_url" "$tag"
	fi
	at_step "checking the image $image" "nothing has changed (no migration ran, no service moved)" "$again"
	check_image "$repo_url" "$tag"

	at_step "the migrations of $tag" "no service moved and no migration ran" "no rollback is needed; $again"
	if ((SKIP_MIGRATIONS)); then
		warn "the migrations are skipped (--skip-migrations); the image's /tmp is still checked"
		run_migrations "$cluster" "$family" "$image" "$subnets" "$sg" "$tag" check-only
	else
		run_migrations "$cluster" "$family" "$image" "$subnets" "$sg" "$tag"
	fi

	# From here on services may move: the way back is --rollback, with the plan recorded above.
	back="$(rollback_command "$stack") puts the services back on the task definitions recorded in $(state_file "$stack"); or $again (the migrations run again and find nothing left to do)"
	rolling="the API and the worker"
	if [[ -n $app ]]; then
		rolling="the worker"
		api_note="; the API has not moved (only a CodeDeploy deployment moves it, and none was created)"
	fi
	at_step "pulumi config set taskmanager:compute.imageTag $tag" \
		"the migrations of $tag have run; no service moved" "no rollback is needed; $again (the migrations run again and find nothing left to do)"
	step "pulumi up: image $tag"
	pulumi config set --path taskmanager:compute.imageTag "$tag" --stack "$(stack_ref "$stack")" ||
		die "could not set taskmanager:compute.imageTag to $tag in this checkout's Pulumi.$stack.yaml"
	at_step "pulumi up of $tag" \
		"the migrations of $tag have run; this checkout's Pulumi.$stack.yaml sets taskmanager:compute.imageTag to $tag (git checkout Pulumi.$stack.yaml undoes it); pulumi up may have applied part of the change, and $rolling may be moving to new task definitions$api_note" \
		"$back"
	pulumi up --yes --stack "$(stack_ref "$stack")" --message "deploy $tag" || die "pulumi up of $tag to $stack failed"
	state_put "$stack" image_tag "$tag"

	at_step "checking $rolling on $tag" \
		"the migrations of $tag have run and pulumi up has applied it: $rolling run or are moving to its task definitions$api_note" "$back"
	outputs=$(stack_outputs "$stack") || die "cannot read the outputs of stack $stack (pulumi stack output)"
	outputs_into values "$outputs" apiTaskDefinitionArn workerTaskDefinitionArn ||
		die "cannot read the outputs of stack $stack (not the JSON of pulumi stack output)"
	api_td=${values[0]} worker_td=${values[1]}
	if [[ -n $app ]]; then
		# The worker deploys rolling everywhere; the API's task definition is CodeDeploy's to deploy.
		wait_stable "$cluster" worker
		verify_services "$cluster" "worker=$worker_td" || die "the worker is not running $tag"
		at_step "the CodeDeploy deployment of the API" \
			"the migrations of $tag have run; the worker runs $tag; the API runs what it ran before the deploy" "$back"
		codedeploy_api "$stack" "$cluster" "$app" "$group" "$api_td"
	else
		wait_stable "$cluster" api worker
		verify_services "$cluster" "api=$api_td" "worker=$worker_td" || die "the services are not running $tag"
	fi
	step "Deployed $tag to $stack"
}

# rollback_command STACK: the command that rolls STACK back, as this person or pipeline runs it.
rollback_command() {
	if [[ $1 == production ]] && ! in_ci; then
		printf 'scripts/deploy.sh --rollback %s %s' "$PRODUCTION_FLAG" "$1"
	else
		printf 'scripts/deploy.sh --rollback %s' "$1"
	fi
}

# deploy_preview STACK CLUSTER TAG: what a deploy of TAG changes, shown before anything changes:
# `pulumi preview` with the image the stack runs now (the stack file's tag is a placeholder, as in
# CI's previews), so that the diff is this checkout's change; then the image change, in words.
deploy_preview() {
	local stack=$1 cluster=$2 tag=$3 running from=""
	[[ -z $PROMOTE_FROM ]] || from=" (copied from $PROMOTE_FROM)"
	step "Preview of $stack: what this checkout changes besides the image"
	# The services exist from the first `pulumi up` on (create-environment.sh), running the stack
	# file's placeholder until the first deploy: not knowing what runs is an error, not "no image".
	running=$(running_image "$cluster" worker) || return 1
	pulumi config set --path taskmanager:compute.imageTag "${running##*:}" --stack "$(stack_ref "$stack")" || return 1
	pulumi preview --diff --stack "$(stack_ref "$stack")" --message "preview before deploying $tag" >&2 || return 1
	log "Then the deploy runs the migrations of $tag against $stack's database, and moves the services"
	log "from ${running##*:} to $tag$from."
}

# SMOKE_TEST_HEADER is the header the load balancer's sign-in lets through (infra/edge).
SMOKE_TEST_HEADER=X-Smoke-Test-Token

# smoke_test STACK: the services are healthy on their task definitions, and the API answers its
# health check through the load balancer. Dev's load balancer is internal (reached only through
# the bastion), so for dev the ECS checks are the smoke test: a task is only healthy once its
# container health check and the load balancer's target health check have both got an answer
# from the health path inside the VPC.
smoke_test() {
	local stack=$1 outputs cluster url lb app api worker health token_arn topic token="" code i values=()
	check_stack "$stack"
	require_tools pulumi aws jq curl
	cd "$REPO_ROOT"
	at_step "the smoke test of $stack" "the smoke test changes nothing: $stack runs what its last deploy left" \
		"if the last deploy is at fault: $(rollback_command "$stack"); else fix the cause, then run the smoke test again: $INVOCATION"
	outputs=$(stack_outputs "$stack") || die "cannot read the outputs of stack $stack (pulumi stack output)"
	outputs_into values "$outputs" clusterName url loadBalancerDnsName codeDeployApplication \
		apiTaskDefinitionArn workerTaskDefinitionArn smokeTestHeaderSecretArn alertTopicArn ||
		die "cannot read the outputs of stack $stack (not the JSON of pulumi stack output)"
	cluster=${values[0]} url=${values[1]} lb=${values[2]} app=${values[3]} api="api=${values[4]}"
	worker="worker=${values[5]}" token_arn=${values[6]} topic=${values[7]}
	# A blue/green API runs whatever CodeDeploy last completed (or rolled back to).
	[[ -z $app ]] || api="api=*"

	step "Smoke test of $stack: services"
	verify_services "$cluster" "$api" "$worker" ||
		die "smoke test failed: the services are not healthy on the deployed task definitions"
	# Production's alarms mail through its topic: an address that never confirmed gets nothing.
	[[ -z $topic ]] || check_alert_subscriptions "$topic"

	if [[ $lb == internal-* ]]; then
		log "  the load balancer is internal; the healthy tasks above answered the health check inside the VPC"
		return 0
	fi
	health=$(config_get "$stack" taskmanager:api.healthCheckPath) || die "cannot read taskmanager:api.healthCheckPath of $stack"
	if [[ -n $token_arn ]]; then
		# Staging's load balancer signs people in; the smoke test passes with the secret header.
		# The token is read into a variable and handed to curl on stdin: it is never printed and
		# never on a command line.
		token=$(aws secretsmanager get-secret-value --secret-id "$token_arn" --query SecretString --output text) ||
			die "cannot read the smoke-test token ($token_arn; aws secretsmanager get-secret-value)"
		[[ $token =~ ^[A-Za-z0-9]+$ ]] || die "the smoke-test token ($token_arn) is not letters and digits"
		# In GitHub Actions the runner masks it in every later line of the log, should any tool
		# print it (the workflow command goes to stdout, which the runner reads and hides).
		if [[ ${GITHUB_ACTIONS:-} == true ]]; then printf '::add-mask::%s\n' "$token"; fi
	fi
	step "Smoke test of $stack: GET $url$health"
	for ((i = 1; i <= ${SMOKE_ATTEMPTS:-10}; i++)); do
		code=$(http_status "$url$health" "$token") || code=000
		if [[ $code == 2?? ]]; then
			log "  $url$health answered $code"
			return 0
		fi
		log "  attempt $i: $code"
		sleep "${SMOKE_INTERVAL:-6}"
	done
	die "smoke test failed: $url$health did not answer 2xx"
}

# http_status URL [TOKEN]: the HTTP status code of a GET, with the smoke tests' header when a
# token is given. The token reaches curl as a config file on stdin (curl -K -); it is letters and
# digits only.
http_status() {
	local config
	if [[ -n $2 ]]; then
		printf -v config 'header = "%s: %s"\n' "$SMOKE_TEST_HEADER" "$2"
		feed "$config" curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -K - "$1"
	else
		curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$1"
	fi
}

# rollback STACK: the services back on what they ran before the last deploy recorded in
# DEPLOY_STATE_DIR. Rolling services get their previous task definition again (re-registered if
# Pulumi deregistered it); a blue/green API is put back by CodeDeploy. No migration runs: the
# schema stays migrated, which the previous release must tolerate (expand, then contract).
# It restores exactly what ran before, checked at the end, or fails naming what it could not.
rollback() {
	local stack=$1 file outputs cluster app group svc previous current target moved="" targets=() names=() missing=() values=()
	local -A plan=()
	check_stack "$stack"
	require_tools pulumi aws jq
	cd "$REPO_ROOT"
	file=$(state_file "$stack")
	at_step "reading the rollback plan of $stack ($file)" "nothing has changed" \
		"fix the cause, then run the rollback again ($INVOCATION); or roll back by hand (docs/runbook.md, Roll back)"
	[[ -f $file ]] ||
		die "no deploy of $stack is recorded in $STATE_DIR: roll back by hand (docs/runbook.md, Roll back)"
	# Every service's plan before anything moves: a partial plan must not give a partial rollback
	# that reports success.
	for svc in api worker; do
		plan[$svc]=$(state_get "$stack" "previous_$svc")
		[[ ${plan[$svc]} == arn:* ]] || missing+=("$svc")
	done
	((${#missing[@]} == 0)) ||
		die "the rollback plan $file has no previous task definition for ${missing[*]} (the deploy could not record it): nothing was rolled back; roll ${missing[*]} back by hand (docs/runbook.md, Roll back)"
	outputs=$(stack_outputs "$stack") || die "cannot read the outputs of stack $stack (pulumi stack output)"
	outputs_into values "$outputs" clusterName codeDeployApplication codeDeployDeploymentGroup ||
		die "cannot read the outputs of stack $stack (not the JSON of pulumi stack output)"
	cluster=${values[0]} app=${values[1]} group=${values[2]}
	[[ -n $cluster ]] || die "stack $stack has no output clusterName"

	production_gate "$stack" rollback_plan "$stack"

	step "Rolling back $stack"
	at_step "rolling back $stack" "no service has moved back yet" \
		"run the rollback again ($INVOCATION): services already back are left alone; or roll back by hand (docs/runbook.md, Roll back)"
	for svc in api worker; do
		[[ $svc == api && -n $app ]] && continue
		previous=${plan[$svc]}
		current=$(service_task_definition "$cluster" "$svc") || die "cannot read which task definition $svc runs in $cluster"
		if [[ $current == "$previous" ]]; then
			log "  $svc already runs ${previous##*/}"
			targets+=("$svc=$previous")
			continue
		fi
		target=$(ecs_usable "$previous") || die "cannot re-register $previous for $svc"
		aws ecs update-service --cluster "$cluster" --service "$svc" --task-definition "$target" \
			--query 'service.serviceName' --output text >/dev/null ||
			die "could not move $svc back to ${target##*/} (aws ecs update-service)"
		log "  $svc: ${current##*/} -> ${target##*/}"
		moved+="${moved:+, }$svc from ${current##*/} to ${target##*/}"
		now_state "moving back: $moved"
		targets+=("$svc=$target")
		names+=("$svc")
	done
	if ((${#names[@]})); then
		wait_stable "$cluster" "${names[@]}"
	fi
	verify_services "$cluster" "${targets[@]}" || die "the rollback did not complete: the services above do not run what they ran before the deploy"
	[[ -z $moved ]] || now_state "moved back: $moved"

	[[ -z $app ]] || rollback_api "$stack" "$cluster" "$app" "$group" "${plan[api]}"
	log "Rolled back. Pulumi's state still names the newer task definitions until the next deploy;"
	log "to align it now: scripts/deploy.sh --skip-migrations $stack <previous tag>"
}

# rollback_api STACK CLUSTER APPLICATION GROUP PREVIOUS: the blue/green API back on PREVIOUS. Within
# the rollback window the deployment recorded is stopped with rollback (the original tasks still
# run: the traffic goes back at once); otherwise, or if the API is still not back, PREVIOUS is
# deployed through CodeDeploy. Checked on the PRIMARY task set at the end.
rollback_api() {
	local stack=$1 cluster=$2 app=$3 group=$4 previous=$5 current id status target
	current=$(service_task_definition "$cluster" api) || die "cannot read which task definition the API runs in $cluster"
	if [[ $current == "$previous" ]]; then
		log "  api already runs ${previous##*/}"
		return 0
	fi
	id=$(state_get "$stack" codedeploy_deployment)
	if [[ -n $id ]]; then
		status=$(aws deploy get-deployment --deployment-id "$id" --query 'deploymentInfo.status' --output text) ||
			die "cannot read CodeDeploy deployment $id (aws deploy get-deployment)"
		case $status in
		Created | Queued | InProgress | Baking | Ready)
			step "Stopping CodeDeploy deployment $id with rollback"
			aws deploy stop-deployment --deployment-id "$id" --auto-rollback-enabled --output text >/dev/null ||
				die "could not stop CodeDeploy deployment $id (aws deploy stop-deployment)"
			now_state "$STATE_NOW; CodeDeploy deployment $id is being stopped with rollback"
			wait_stopped "$id"
			current=$(service_task_definition "$cluster" api) || die "cannot read which task definition the API runs in $cluster"
			;;
		*) log "  CodeDeploy deployment $id is $status" ;;
		esac
	fi
	target=$previous
	if [[ $current != "$previous" ]]; then
		target=$(ecs_usable "$previous") || die "cannot re-register $previous for the API"
		codedeploy_api "$stack" "$cluster" "$app" "$group" "$target"
		current=$(service_task_definition "$cluster" api) || die "cannot read which task definition the API runs in $cluster"
	fi
	[[ $current == "$target" ]] ||
		die "the API runs ${current##*/}, not ${target##*/} (what it ran before the deploy): the rollback did not complete"
	log "  api: back on ${target##*/}"
}

# rollback_plan STACK: what --rollback puts back, from the record of the last deploy.
rollback_plan() {
	local stack=$1 svc id
	step "Rollback of $stack: what the last deploy from this checkout recorded ($(state_file "$stack"))"
	for svc in api worker; do
		log "  $svc back to: $(state_get "$stack" "previous_$svc")"
	done
	id=$(state_get "$stack" codedeploy_deployment)
	[[ -z $id ]] || log "  the API's CodeDeploy deployment $id: stopped with rollback within its window, else the API's task definition above deployed through CodeDeploy"
	log "No migration runs."
}

# ecs_usable TASK_DEFINITION: the task definition itself when still ACTIVE, else a new revision
# with the same content (a service cannot be pointed at an INACTIVE revision).
ecs_usable() {
	local status
	status=$(aws ecs describe-task-definition --task-definition "$1" --query 'taskDefinition.status' --output text) || return 1
	if [[ $status == ACTIVE ]]; then
		printf '%s' "$1"
	else
		register_copy "$1"
	fi
}

# wait_stopped ID: until the deployment stopped with rollback has ended. Succeeded means the stop
# came too late: the API stays on the new task definition, and the caller deploys the old one.
wait_stopped() {
	local id=$1 status i
	for ((i = 0; i < 120; i++)); do
		status=$(aws deploy get-deployment --deployment-id "$id" --query 'deploymentInfo.status' --output text) ||
			die "cannot read CodeDeploy deployment $id (aws deploy get-deployment)"
		case $status in
		Stopped | Failed | Succeeded)
			log "  deployment $id: $status"
			return 0
			;;
		esac
		sleep "$POLL_SECONDS"
	done
	die "CodeDeploy deployment $id did not stop"
}

# restart_plan STACK APPLICATION: what --restart does, shown before production's confirmation.
restart_plan() {
	step "Restart of $1: new tasks on the task definitions the services run now"
	if [[ -n $2 ]]; then
		log "  worker: a forced new deployment"
		log "  api: a CodeDeploy deployment of the task definition its PRIMARY task set runs (10% for 15 minutes, then 100%)"
	else
		log "  api, worker: a forced new deployment"
	fi
	log "No task definition, image, config or migration changes."
}

# restart STACK: every service starts new tasks on the task definition it runs, so that they read
# the secrets' current values (ECS reads them only when a task starts; the task definitions name
# no version, so a changed value changes no task definition and a deploy restarts nothing).
# Rolling services get a forced new deployment; a blue/green API a CodeDeploy deployment.
restart() {
	local stack=$1 outputs cluster app group svc td moved="" values=() rolling=(api worker) targets=()
	check_stack "$stack"
	require_tools pulumi aws jq
	cd "$REPO_ROOT"
	at_step "reading the outputs of stack $stack" "nothing has changed" "fix the cause, then run the restart again: $INVOCATION"
	outputs=$(stack_outputs "$stack") || die "cannot read the outputs of stack $stack (pulumi stack output)"
	outputs_into values "$outputs" clusterName codeDeployApplication codeDeployDeploymentGroup ||
		die "cannot read the outputs of stack $stack (not the JSON of pulumi stack output)"
	cluster=${values[0]} app=${values[1]} group=${values[2]}
	[[ -n $cluster ]] || die "stack $stack has no output clusterName: create it first with scripts/create-environment.sh $stack <image-tag>"
	[[ -z $app ]] || rolling=(worker)

	production_gate "$stack" restart_plan "$stack" "$app"

	at_step "restarting ${rolling[*]} of $cluster" "no service has restarted yet" \
		"run the restart again ($INVOCATION): restarting a service twice only replaces its tasks once more"
	step "Restarting ${rolling[*]} of $cluster"
	for svc in "${rolling[@]}"; do
		td=$(service_task_definition "$cluster" "$svc") || die "cannot read which task definition $svc runs in $cluster"
		aws ecs update-service --cluster "$cluster" --service "$svc" --force-new-deployment \
			--query 'service.serviceName' --output text >/dev/null ||
			die "could not restart $svc (aws ecs update-service --force-new-deployment)"
		log "  $svc: new tasks on ${td##*/}"
		moved+="${moved:+, }$svc"
		now_state "new tasks are starting for $moved, on the task definitions they ran; the old tasks keep running until they are replaced"
		targets+=("$svc=$td")
	done
	wait_stable "$cluster" "${rolling[@]}"
	verify_services "$cluster" "${targets[@]}" || die "the restart did not complete: the services above are not all running"
	if [[ -n $app ]]; then
		at_step "the CodeDeploy deployment of the API" "$moved restarted; the API runs its old tasks" \
			"run the restart again ($INVOCATION)"
		td=$(service_task_definition "$cluster" api) || die "cannot read which task definition the API runs in $cluster"
		codedeploy_api "$stack" "$cluster" "$app" "$group" "$td" restart
	fi
	step "Restarted the services of $stack: their tasks read the secrets' current values"
}

# pending_subscriptions TOPIC_ARN: the endpoints of the topic's subscriptions that are still
# PendingConfirmation (an e-mail address that has not clicked the link gets no alarm), one a line.
pending_subscriptions() {
	aws sns list-subscriptions-by-topic --topic-arn "$1" --output json |
		jq -r '.Subscriptions[] | select(.SubscriptionArn == "PendingConfirmation") | .Endpoint'
}

# check_alert_subscriptions TOPIC_ARN: reports (warns; never fails) each alert subscription that
# still waits for its confirmation, and how to resend it.
check_alert_subscriptions() {
	local topic=$1 pending endpoint
	step "Alert subscriptions of ${topic##*:}"
	pending=$(pending_subscriptions "$topic") || {
		warn "cannot read the subscriptions of $topic (aws sns list-subscriptions-by-topic): check by hand that every alert address has confirmed"
		return 0
	}
	if [[ -z $pending ]]; then
		log "  every subscription is confirmed"
		return 0
	fi
	while IFS= read -r endpoint; do
		[[ -n $endpoint ]] || continue
		warn "the alert subscription of $endpoint is PendingConfirmation: it gets no alarm until the address confirms (the mail \"AWS Notification - Subscription Confirmation\"; to resend: aws sns subscribe --topic-arn $topic --protocol email --notification-endpoint $endpoint)"
	done <<<"$pending"
}

main() {
	local mode=deploy args=()
	# The command as given, for the failure report's "to get back" (arguments hold no secret).
	INVOCATION="scripts/deploy.sh $*"
	track_failures
	PROMOTE_FROM=""
	SKIP_MIGRATIONS=0
	WAIT_FOR_TERMINATION=0
	I_MEAN_PRODUCTION=0
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			return 0
			;;
		--smoke-test) mode=smoke ;;
		--rollback) mode=rollback ;;
		--running-image) mode=running_image ;;
		--restart) mode=restart ;;
		--skip-migrations) SKIP_MIGRATIONS=1 ;;
		--wait-for-termination) WAIT_FOR_TERMINATION=1 ;;
		"$PRODUCTION_FLAG") I_MEAN_PRODUCTION=1 ;;
		--promote-from)
			[[ $# -ge 2 ]] || die "--promote-from needs an image"
			PROMOTE_FROM=$2
			shift
			;;
		-*) die "unknown option $1 (see --help)" ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	case $mode in
	deploy)
		[[ ${#args[@]} -eq 2 ]] || {
			usage >&2
			die "want <stack> <image-tag>"
		}
		require_production_flag "${args[0]}" "$I_MEAN_PRODUCTION"
		deploy "${args[@]}"
		;;
	*)
		[[ ${#args[@]} -eq 1 ]] || {
			usage >&2
			die "want <stack>"
		}
		case $mode in
		smoke) smoke_test "${args[0]}" ;;
		rollback)
			require_production_flag "${args[0]}" "$I_MEAN_PRODUCTION"
			rollback "${args[0]}"
			;;
		restart)
			require_production_flag "${args[0]}" "$I_MEAN_PRODUCTION"
			restart "${args[0]}"
			;;
		running_image)
			check_stack "${args[0]}"
			require_tools aws jq
			# The cluster's name is fixed (<stack>-taskmanager): no Pulumi login needed.
			running_image "${args[0]}-taskmanager" worker || die "cannot read the image ${args[0]}'s worker runs"
			;;
		esac
		;;
	esac
}

main "$@"
