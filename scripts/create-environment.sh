#!/usr/bin/env bash
# Creates an environment: the spec's create script, in Pulumi terms. Selects (or creates) the
# stack, asks for the secrets only a person has that are not set yet, builds the rotation
# function, runs `pulumi up`, then deploys the given image tag with scripts/deploy.sh (copied in
# with --promote-from where given; migrations first).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: scripts/create-environment.sh [--i-mean-production] [--promote-from IMAGE] <stack> <image-tag>

<stack> is dev, staging or production. <image-tag> (required) is the image to deploy once the
infrastructure exists, e.g. main-abc1234 or v1.2.3; the stack file's taskmanager:compute.imageTag
is a placeholder (bootstrap) that no repository holds. The stack's repository (taskmanager-<stack>)
is new and empty: give --promote-from with the same image in another stack's repository (e.g.
<account>.dkr.ecr.us-east-1.amazonaws.com/taskmanager-dev:main-abc1234) and step 5 copies it in
(the same digest, under <image-tag>; skopeo logged in to IMAGE's registry), or push <image-tag>
to taskmanager-<stack> yourself between step 4 and step 5.

Steps:
  1. pulumi stack select --create <stack>
  2. asks for each person-supplied secret that is not set yet (typing is not echoed) and sets it
     with `pulumi config set --secret --path taskmanager:externalSecrets.<key>` (the value goes
     to Pulumi on stdin, never on a command line):
       production: smtpUsername smtpPassword googleClientId googleClientSecret githubClientId
                   githubClientSecret sentryDsn datadogApiKey, all required
       staging, dev: the eight above, optional (staging's people sign in through its own
                   Cognito user pool: docs/runbook.md says how to invite them)
     An optional one is skipped with an empty answer (its integration stays off).
  3. scripts/build-lambdas.sh (the rotation function the program deploys)
  4. pulumi up --yes (the first up also creates the app's database users)
  5. scripts/deploy.sh [--promote-from IMAGE] <stack> <image-tag>: the image copied in, its
     scan checked, the migrations, then the services

Production outside CI (CI is not "true") is refused unless you pass --i-mean-production. Then,
after step 3, it shows `pulumi preview` of production and asks you to type "production" at the
terminal (/dev/tty; with no terminal it refuses) before `pulumi up`; step 5 (deploy.sh, given the
flag) shows its own preview and asks again before the migrations. Nothing in production changes
before the first answer.

Environment: PULUMI_ORG (Pulumi organisation of the stacks), BUILD_LAMBDAS (the build script).
EOF
}

# The secrets a person supplies (README, Secrets). Production requires them
# (taskmanager:secrets.requireExternal: true); elsewhere a missing one turns its integration off.
EXTERNAL_SECRETS=(smtpUsername smtpPassword googleClientId googleClientSecret githubClientId githubClientSecret sentryDsn datadogApiKey)

# is_set STACK KEY: whether the secret has a value. `pulumi config get` would print it: discarded.
is_set() {
	config_get "$1" "taskmanager:externalSecrets.$2" >/dev/null 2>&1
}

# ask_secret STACK KEY REQUIRED: reads the value without echo and hands it to Pulumi on stdin.
ask_secret() {
	local stack=$1 key=$2 required=$3 value="" tries=0 hint
	if is_set "$stack" "$key"; then
		log "  $key: already set, kept"
		return 0
	fi
	hint="optional, Enter to skip"
	[[ $required == required ]] && hint="required"
	while :; do
		printf '  %s (%s): ' "$key" "$hint" >&2
		value=""
		if ! IFS= read -rs value; then
			# End of input: no more answers will come.
			printf '\n' >&2
			[[ $required == required && -z $value ]] && die "no value for $key, which $stack requires"
		else
			printf '\n' >&2
		fi
		if [[ -z $value ]]; then
			[[ $required == required ]] || {
				log "    skipped"
				return 0
			}
			log "    $key is required for $stack"
		else
			break
		fi
		((++tries < 3)) || die "no valid value for $key"
	done
	printf '%s' "$value" | pulumi config set --secret --path "taskmanager:externalSecrets.$key" --stack "$(stack_ref "$stack")" >/dev/null
	value=""
	log "    set (encrypted in Pulumi.$stack.yaml)"
}

# create_preview STACK: what the first `pulumi up` creates (or, on an existing stack, changes).
create_preview() {
	step "Preview of $1: what pulumi up creates or changes"
	pulumi preview --diff --stack "$(stack_ref "$1")" --message "preview before creating $1" >&2
}

main() {
	local stack tag args=() i_mean_production=0 deploy promote_from=""
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			return 0
			;;
		"$PRODUCTION_FLAG") i_mean_production=1 ;;
		--promote-from)
			[[ $# -ge 2 && -n $2 ]] || die "--promote-from needs an image"
			promote_from=$2
			shift
			;;
		-*) die "unknown option $1 (see --help)" ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	[[ ${#args[@]} -eq 2 ]] || {
		usage >&2
		die "want <stack> <image-tag>: the image to deploy (the stack file's imageTag is a placeholder no repository holds)"
	}
	stack=${args[0]}
	tag=${args[1]}
	check_stack "$stack"
	check_tag "$tag"
	[[ $tag != bootstrap ]] ||
		die "\"bootstrap\" is the stack files' placeholder, an image no repository holds: give the tag to deploy, e.g. main-abc1234"
	require_production_flag "$stack" "$i_mean_production"
	require_tools pulumi aws jq
	cd "$REPO_ROOT"

	step "Stack $stack"
	pulumi stack select --create "$(stack_ref "$stack")"

	step "Secrets only a person has"
	case $stack in
	production)
		for key in "${EXTERNAL_SECRETS[@]}"; do ask_secret "$stack" "$key" required; done
		;;
	*)
		for key in "${EXTERNAL_SECRETS[@]}"; do ask_secret "$stack" "$key" optional; done
		;;
	esac

	step "Building the rotation function"
	"${BUILD_LAMBDAS:-$REPO_ROOT/scripts/build-lambdas.sh}"

	# Production outside CI: the preview, then the stack's name typed at the terminal.
	production_gate "$stack" create_preview "$stack"

	step "pulumi up"
	# The services are created with the stack file's image tag; until that image exists in the
	# new repository their tasks do not start, and the app starts only after its migrations, in
	# the deploy below.
	pulumi up --yes --stack "$(stack_ref "$stack")" --message "create $stack"

	step "Deploying $tag"
	deploy=("$REPO_ROOT/scripts/deploy.sh")
	((i_mean_production == 0)) || deploy+=("$PRODUCTION_FLAG")
	[[ -z $promote_from ]] || deploy+=(--promote-from "$promote_from")
	"${deploy[@]}" "$stack" "$tag" || die "the infrastructure of $stack exists, but the deploy of $tag failed (above); fix that, then run: scripts/deploy.sh ${deploy[*]:1}${deploy[1]:+ }$stack <image-tag>"

	step "Environment $stack created"
	log "Outputs: pulumi stack output --stack $(stack_ref "$stack")"
}

main "$@"
