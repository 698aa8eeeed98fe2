{{/* Names, labels and the pieces several templates share. */}}

{{- define "helpdesk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* RELEASE-helpdesk, or RELEASE alone when it already says helpdesk; 63 characters at most. */}}
{{- define "helpdesk.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name for a part of the release: FULLNAME-SUFFIX, cut so it stays a DNS label. */}}
{{- define "helpdesk.componentName" -}}
{{- printf "%s-%s" (include "helpdesk.fullname" .ctx | trunc (int (sub 62 (len .suffix))) | trimSuffix "-") .suffix -}}
{{- end -}}

{{- define "helpdesk.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "helpdesk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "helpdesk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "helpdesk.labels" -}}
helm.sh/chart: {{ include "helpdesk.chart" . }}
{{ include "helpdesk.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: helpdesk
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component: (dict "ctx" $ "component" "server"). */}}
{{- define "helpdesk.componentLabels" -}}
{{ include "helpdesk.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "helpdesk.componentSelectorLabels" -}}
{{ include "helpdesk.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations plus extra ones: (dict "ctx" $ "extra" $map). */}}
{{- define "helpdesk.annotations" -}}
{{- $all := merge (deepCopy (.extra | default dict)) (.ctx.Values.commonAnnotations | default dict) -}}
{{- with $all }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* registry/repository[:tag][@digest] from an image map: (dict "image" .Values.image "defaultTag" "1.0"). */}}
{{- define "helpdesk.imageRef" -}}
{{- $repository := .image.repository -}}
{{- if .image.registry }}{{ $repository = printf "%s/%s" .image.registry .image.repository }}{{ end -}}
{{- $tag := .image.tag | default .defaultTag | toString -}}
{{- if $tag }}{{ $repository = printf "%s:%s" $repository $tag }}{{ end -}}
{{- if .image.digest }}{{ $repository = printf "%s@%s" $repository .image.digest }}{{ end -}}
{{- $repository -}}
{{- end -}}

{{- define "helpdesk.image" -}}
{{- include "helpdesk.imageRef" (dict "image" .Values.image "defaultTag" .Chart.AppVersion) -}}
{{- end -}}

{{- define "helpdesk.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "helpdesk.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "helpdesk.srebotServiceAccountName" -}}
{{- if .Values.srebot.serviceAccount.create -}}
{{- default (include "helpdesk.componentName" (dict "ctx" . "suffix" "srebot")) .Values.srebot.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.srebot.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The port that serves /readyz, /metrics and the API. */}}
{{- define "helpdesk.adminPortName" -}}
{{- if gt (int .Values.server.adminPort) 0 }}admin{{ else }}http{{ end -}}
{{- end -}}

{{/* "true" when a pre-install/pre-upgrade Job runs `helpdesk migrate` (PostgreSQL store only). */}}
{{- define "helpdesk.migrationHook" -}}
{{- if and .Values.store.postgres.enabled .Values.migrations.hookJob }}true{{ end -}}
{{- end -}}

{{/* What the chart refuses, with the way out in the message. */}}
{{- define "helpdesk.validate" -}}
{{- $pg := .Values.store.postgres -}}
{{- $pdb := .Values.podDisruptionBudget -}}
{{- $minAvailable := toString $pdb.minAvailable -}}
{{- if $pg.enabled -}}
{{- if not $pg.existingSecret -}}
{{- fail "store.postgres.enabled needs store.postgres.existingSecret, an existing Secret holding the store's URL (the chart never holds it): kubectl create secret generic helpdesk-store --from-literal=url='postgres://helpdesk:…@db:5432/helpdesk?sslmode=verify-full'" -}}
{{- end -}}
{{- if and $pg.password.existingSecret .Values.secrets.postgresTargets.existingSecret .Values.secrets.postgresTargets.passwordKey -}}
{{- fail "store.postgres.password and secrets.postgresTargets.passwordKey would both be PGPASSWORD, which the whole process shares: put the store's password in its URL (store.postgres.existingSecret), or the databases' passwords in a .pgpass file (secrets.postgresTargets.pgpassKey)" -}}
{{- end -}}
{{- /* The fewest replicas there can be; a percentage is rounded up, as Kubernetes does. */ -}}
{{- $least := ternary (int .Values.autoscaling.minReplicas) (int .Values.replicaCount) .Values.autoscaling.enabled -}}
{{- $kept := 0 -}}
{{- if regexMatch "^[0-9]+$" $minAvailable }}{{ $kept = int $minAvailable }}{{ end -}}
{{- if regexMatch "^[0-9]+%$" $minAvailable }}{{ $kept = div (add (mul $least (int (trimSuffix "%" $minAvailable))) 99) 100 }}{{ end -}}
{{- if and $pdb.enabled (gt (int $kept) 0) (ge (int $kept) $least) -}}
{{- fail (printf "podDisruptionBudget.minAvailable %s with %d replica(s) would block every node drain: keep it below the replica count (%s), or use maxUnavailable: 1" $minAvailable $least (ternary "autoscaling.minReplicas" "replicaCount" .Values.autoscaling.enabled)) -}}
{{- end -}}
{{- else -}}
{{- if $pg.existingSecret -}}
{{- fail "store.postgres.existingSecret is set but store.postgres.enabled is false: set store.postgres.enabled: true for the PostgreSQL store, or unset existingSecret for SQLite" -}}
{{- end -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- fail (printf "replicaCount is %d, but the SQLite store runs one replica only (its file is on a ReadWriteOnce volume and WAL needs one host): set replicaCount: 1, or use the PostgreSQL store (store.postgres.enabled) for several replicas" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- fail "autoscaling.enabled needs the PostgreSQL store (store.postgres.enabled): the SQLite store runs one replica only; set autoscaling.enabled: false" -}}
{{- end -}}
{{- if and $pdb.enabled (ne $minAvailable "") -}}
{{- fail "podDisruptionBudget.minAvailable with the single SQLite replica would block every node drain: leave it empty and keep maxUnavailable: 1" -}}
{{- end -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- if gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas) -}}
{{- fail (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- if not (dig "requests" "cpu" "" (.Values.resources | default dict)) -}}
{{- fail "autoscaling's CPU target is a percentage of resources.requests.cpu, which is not set: set it (e.g. 250m)" -}}
{{- end -}}
{{- if and (gt (int .Values.autoscaling.targetMemoryUtilizationPercentage) 0) (not (dig "requests" "memory" "" (.Values.resources | default dict))) -}}
{{- fail "autoscaling.targetMemoryUtilizationPercentage is a percentage of resources.requests.memory, which is not set: set it, or the target to 0" -}}
{{- end -}}
{{- end -}}
{{- /* Several pods with the web channel on: each would sign cookies with a random key of its own, so a
sign-in on one pod is refused by the next and every restart signs everyone out. */ -}}
{{- $webOn := ne (toString (dig "web" "enabled" true (.Values.config | default dict))) "false" -}}
{{- $webKey := (.Values.secrets.web | default dict).existingSecret -}}
{{- range .Values.extraEnv }}{{ if eq (toString .name) "HELPDESK_WEB_SESSION_KEY" }}{{ $webKey = "extraEnv" }}{{ end }}{{ end -}}
{{- if and $webOn (not $webKey) (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) -}}
{{- fail (printf "%s with the web channel on needs secrets.web.existingSecret, a Secret with the key that signs web sessions (without it each pod makes its own, so a sign-in on one pod is refused by the others): kubectl create secret generic helpdesk-web --from-literal=session-key=\"$(openssl rand -hex 32)\"; or turn the web channel off with config.web.enabled: false" (ternary "autoscaling.enabled" (printf "replicaCount %d" (int .Values.replicaCount)) .Values.autoscaling.enabled)) -}}
{{- end -}}
{{- if and .Values.rbac.create .Values.rbac.clusterWide .Values.rbac.allowWrites (not .Values.rbac.acknowledgeClusterWideWrites) -}}
{{- fail "rbac.clusterWide with rbac.allowWrites lets the server patch and scale every Deployment and StatefulSet in the cluster: list the namespaces to change in rbac.namespaces with clusterWide: false, or set rbac.acknowledgeClusterWideWrites: true" -}}
{{- end -}}
{{- with include "helpdesk.inlinePasswords" (dict "node" (dict "config" .Values.config "inventory" .Values.inventory) "path" "") | trim -}}
{{- fail (printf "a password inline in %s: helpdesk.yaml is a ConfigMap, which is not secret; leave it out of the URL or connection string and use a Secret (secrets.postgresTargets for databases, secrets.smtp for mail)" .) -}}
{{- end -}}
{{- if eq (int .Values.server.port) (int .Values.server.adminPort) -}}
{{- fail "server.port and server.adminPort must differ (set adminPort: 0 to serve everything on one port)" -}}
{{- end -}}
{{- if and .Values.srebot.enabled (eq .Values.srebot.mode "server") (not .Values.srebot.apiToken.existingSecret) -}}
{{- fail "srebot.mode server calls the server's API and needs a token: set srebot.apiToken.existingSecret (or use srebot.mode: local)" -}}
{{- end -}}
{{- if and .Values.srebot.enabled (eq (len .Values.srebot.checks) 0) -}}
{{- fail "srebot.enabled needs at least one entry in srebot.checks ({target: INVENTORY-ID, schedule: CRON})" -}}
{{- end -}}
{{- range .Values.srebot.checks -}}
{{- if and .post (not $.Values.secrets.slack.existingSecret) -}}
{{- fail (printf "srebot check %q posts to Slack but secrets.slack.existingSecret is empty" .target) -}}
{{- end -}}
{{- end -}}
{{- range $name, $receiver := .Values.secrets.alertmanagerReceivers -}}
{{- if and $receiver.bearerTokenKey $receiver.basicAuthPasswordKey -}}
{{- fail (printf "secrets.alertmanagerReceivers.%s: a receiver takes bearerTokenKey or basicAuthPasswordKey, not both" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The paths of *url* and connection_string values holding a password (user:pass@, password=), space
separated: values.schema.json refuses them too, but `--skip-schema-validation` skips that.
*/}}
{{- define "helpdesk.inlinePasswords" -}}
{{- $path := .path -}}
{{- range $key, $value := .node -}}
{{- $here := ternary $key (printf "%s.%s" $path $key) (eq $path "") -}}
{{- if kindIs "map" $value -}}
{{- include "helpdesk.inlinePasswords" (dict "node" $value "path" $here) -}}
{{- else if and (kindIs "string" $value) (or (contains "url" (lower $key)) (eq $key "connection_string")) -}}
{{- if or (regexMatch `://[^/@\s:]*:[^/@\s]+@` $value) (regexMatch `(?i)password\s*=` $value) }}{{ $here }} {{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A DNS-label form of an inventory id, for resource names. */}}
{{- define "helpdesk.dnsLabel" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trunc 40 | trimAll "-" -}}
{{- end -}}

{{/*
Every secret file the server reads, as YAML: a list of {secret, key, file, path} where path is the
helpdesk.yaml key path that names the file. One list feeds the projected volume and the config, so
the two cannot drift apart.
*/}}
{{- define "helpdesk.secretFiles" -}}
{{- $s := .Values.secrets -}}
{{- $files := list -}}
{{- with $s.slack.existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $s.slack.signingSecretKey "file" "slack-signing-secret" "path" (list "slack" "signing_secret_file")) -}}
{{- $files = append $files (dict "secret" . "key" $s.slack.botTokenKey "file" "slack-bot-token" "path" (list "slack" "bot_token_file")) -}}
{{- if $s.slack.previousSigningSecretKey -}}
{{- $files = append $files (dict "secret" . "key" $s.slack.previousSigningSecretKey "file" "slack-previous-signing-secret" "path" (list "slack" "previous_signing_secret_file")) -}}
{{- end -}}
{{- end -}}
{{- with $s.smtp.existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $s.smtp.passwordKey "file" "smtp-password" "path" (list "smtp" "password_file")) -}}
{{- end -}}
{{- with $s.llm.existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $s.llm.apiKeyKey "file" "llm-api-key" "path" (list "llm" "api_key_file")) -}}
{{- end -}}
{{- with $s.approvals.existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $s.approvals.linkKeyKey "file" "approval-link-key" "path" (list "approvals" "link_key_file")) -}}
{{- if $s.approvals.previousLinkKeyKey -}}
{{- $files = append $files (dict "secret" . "key" $s.approvals.previousLinkKeyKey "file" "approval-previous-link-key" "path" (list "approvals" "previous_link_key_file")) -}}
{{- end -}}
{{- end -}}
{{- with $s.audit.existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $s.audit.keyKey "file" "audit-key" "path" (list "audit" "key_file")) -}}
{{- if $s.audit.previousKeyKey -}}
{{- $files = append $files (dict "secret" . "key" $s.audit.previousKeyKey "file" "audit-previous-key" "path" (list "audit" "previous_key_file")) -}}
{{- end -}}
{{- end -}}
{{- with ($s.web | default dict).existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $s.web.sessionKeyKey "file" "web-session-key" "path" (list "web" "session_key_file")) -}}
{{- end -}}
{{- with ($s.users | default dict).existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $s.users.key "file" "users-file" "path" (list "users" "file")) -}}
{{- end -}}
{{- with $s.inboundEmail.existingSecret -}}
{{- if $s.inboundEmail.bearerTokenKey -}}
{{- $files = append $files (dict "secret" . "key" $s.inboundEmail.bearerTokenKey "file" "inbound-email-bearer-token" "path" (list "inbound_email" "bearer_token_file")) -}}
{{- end -}}
{{- if $s.inboundEmail.basicAuthPasswordKey -}}
{{- $files = append $files (dict "secret" . "key" $s.inboundEmail.basicAuthPasswordKey "file" "inbound-email-basic-auth-password" "path" (list "inbound_email" "basic_auth_password_file")) -}}
{{- end -}}
{{- if $s.inboundEmail.mailgunSigningKeyKey -}}
{{- $files = append $files (dict "secret" . "key" $s.inboundEmail.mailgunSigningKeyKey "file" "inbound-email-mailgun-signing-key" "path" (list "inbound_email" "mailgun_signing_key_file")) -}}
{{- end -}}
{{- end -}}
{{- range $name, $r := $s.alertmanagerReceivers -}}
{{- $file := printf "alertmanager-%s" (include "helpdesk.dnsLabel" $name) -}}
{{- if $r.bearerTokenKey -}}
{{- $files = append $files (dict "secret" $r.existingSecret "key" $r.bearerTokenKey "file" (printf "%s-bearer-token" $file) "path" (list "alertmanager" "receivers" $name "bearer_token_file")) -}}
{{- else if $r.basicAuthPasswordKey -}}
{{- $files = append $files (dict "secret" $r.existingSecret "key" $r.basicAuthPasswordKey "file" (printf "%s-basic-auth-password" $file) "path" (list "alertmanager" "receivers" $name "basic_auth_password_file")) -}}
{{- end -}}
{{- end -}}
{{- $tokens := deepCopy ($s.apiTokens | default dict) -}}
{{- if and .Values.srebot.enabled (eq .Values.srebot.mode "server") .Values.srebot.apiToken.existingSecret -}}
{{- $_ := set $tokens .Values.srebot.apiToken.principal (dict "existingSecret" .Values.srebot.apiToken.existingSecret "key" .Values.srebot.apiToken.key) -}}
{{- end -}}
{{- range $principal, $t := $tokens -}}
{{- $files = append $files (dict "secret" $t.existingSecret "key" $t.key "file" (printf "api-%s-token" (include "helpdesk.dnsLabel" $principal)) "path" (list "api" "tokens" $principal "token_file")) -}}
{{- end -}}
{{- toYaml (dict "files" $files) -}}
{{- end -}}

{{/* The public URL: config.server.public_base_url, else https://FIRST-HOST of an Ingress with TLS. */}}
{{- define "helpdesk.publicBaseURL" -}}
{{- $configured := dig "server" "public_base_url" "" (.Values.config | default dict) -}}
{{- if $configured -}}
{{- trimSuffix "/" $configured -}}
{{- else if and .Values.ingress.enabled .Values.ingress.tls (gt (len .Values.ingress.hosts) 0) -}}
{{- printf "https://%s" (index .Values.ingress.hosts 0).host -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the Kubernetes agent reads: rbac.namespaces plus those of in-cluster databases. */}}
{{- define "helpdesk.rbacNamespaces" -}}
{{- $namespaces := list -}}
{{- range .Values.rbac.namespaces }}{{ $namespaces = append $namespaces . }}{{ end -}}
{{- $inventory := .Values.inventory | default dict -}}
{{- $clusters := get $inventory "k8s_clusters" | default dict -}}
{{- range $id, $db := (get $inventory "db_servers" | default dict) -}}
{{- $cluster := get $clusters ($db.k8s_cluster | default "") -}}
{{- if and $db.k8s_namespace $cluster (not $cluster.context) (not $cluster.kubeconfig) -}}
{{- $namespaces = append $namespaces $db.k8s_namespace -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "namespaces" ($namespaces | uniq | sortAlpha)) -}}
{{- end -}}

{{/*
"true" when the Kubernetes agent talks to this cluster, so the server needs its account's token:
an inventory cluster with neither context nor kubeconfig, or roles the chart binds to the account.
*/}}
{{- define "helpdesk.agentInCluster" -}}
{{- $inCluster := false -}}
{{- range $id, $cluster := (get (.Values.inventory | default dict) "k8s_clusters" | default dict) -}}
{{- if not (or $cluster.context $cluster.kubeconfig) }}{{ $inCluster = true }}{{ end -}}
{{- end -}}
{{- if and .Values.rbac.create (or .Values.rbac.clusterWide (include "helpdesk.rbacNamespaces" . | fromYaml).namespaces) -}}
{{- $inCluster = true -}}
{{- end -}}
{{- if and $inCluster .Values.serviceAccount.automountServiceAccountToken }}true{{ end -}}
{{- end -}}

{{/*
The Kubernetes agent's rules: (dict "writes" false) the reads its tools make, (dict "writes" true) its fixes.
"clusterWide" true (the ClusterRole) adds nodes, which are cluster-scoped: a namespaced Role cannot grant them,
so without rbac.clusterWide the nodes tool fails with kubectl's Forbidden (reported as that tool's error).
*/}}
{{- define "helpdesk.agentRules" -}}
{{- if not .writes }}
- apiGroups: [""]
  resources: [pods, events, persistentvolumeclaims]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [apps]
  resources: [deployments, replicasets, statefulsets]
  verbs: [get, list, watch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch]
# pod_metrics: what metrics-server reports (kubectl get --raw …/metrics.k8s.io/v1beta1/namespaces/NS/pods).
- apiGroups: [metrics.k8s.io]
  resources: [pods]
  verbs: [get, list]
{{- if .clusterWide }}
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
{{- end }}
{{- else }}
# rollout restart and rollout undo patch the pod template; scale goes through the scale subresource.
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [patch]
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [get, patch, update]
# rollout undo reads the deployment's ReplicaSets to find the revision's pod template.
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [get, list]
{{- end }}
{{- end -}}

{{/*
helpdesk.yaml: values.config with empty strings dropped (the server reads `key: ""` as a value),
then what the chart owns laid over it: listeners, store, data paths, secret files, overrides.
*/}}
{{- define "helpdesk.configYAML" -}}
{{- include "helpdesk.renderConfig" (dict "ctx" . "srebot" false) -}}
{{- end -}}

{{/*
srebot's local mode: the server's helpdesk.yaml less what it has no secret for (the Job mounts
only srebotSecretFiles), with a throwaway store and bundles in the Job's own /tmp.
*/}}
{{- define "helpdesk.srebotConfigYAML" -}}
{{- include "helpdesk.renderConfig" (dict "ctx" . "srebot" true) -}}
{{- end -}}

{{/* The secret files of srebot's local mode: the model's key, when a model is configured. */}}
{{- define "helpdesk.srebotSecretFiles" -}}
{{- $files := list -}}
{{- $provider := dig "llm" "provider" "none" (.Values.config | default dict) -}}
{{- if and .Values.secrets.llm.existingSecret (ne $provider "none") -}}
{{- $files = append $files (dict "secret" .Values.secrets.llm.existingSecret "key" .Values.secrets.llm.apiKeyKey "file" "llm-api-key" "path" (list "llm" "api_key_file")) -}}
{{- end -}}
{{- toYaml (dict "files" $files) -}}
{{- end -}}

{{- define "helpdesk.renderConfig" -}}
{{- $ctx := .ctx -}}
{{- $srebot := .srebot -}}
{{- $c := deepCopy ($ctx.Values.config | default dict) -}}
{{- range $section, $body := $c -}}
{{- if kindIs "map" $body -}}
{{- range $key, $value := $body -}}
{{- if or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value "")) -}}
{{- $_ := unset $body $key -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $srebot -}}
{{- /* Sections whose credentials srebot does not get (their checks would fail without them) and
that a diagnosis does not use; and the rotation keys whose previous secret it does not get. */ -}}
{{- range $section := list "api" "inbound_email" "smtp" "alertmanager" "web" }}{{ $_ := unset $c $section }}{{ end -}}
{{- range $pair := list (list "slack" "previous_signing_secret_until") (list "approvals" "previous_link_key_id") (list "audit" "previous_key_id") -}}
{{- with get $c (index $pair 0) }}{{ if kindIs "map" . }}{{ $_ := unset . (index $pair 1) }}{{ end }}{{ end -}}
{{- end -}}
{{- end -}}
{{- range $section := list "server" "store" "diagnosis" "policies" "slack" "smtp" "approvals" "audit" "llm" "inbound_email" "alertmanager" "api" -}}
{{- if not (kindIs "map" (get $c $section)) }}{{ $_ := set $c $section dict }}{{ end -}}
{{- end -}}
{{- $server := get $c "server" -}}
{{- $_ := set $server "listen" (printf "0.0.0.0:%d" (int $ctx.Values.server.port)) -}}
{{- if gt (int $ctx.Values.server.adminPort) 0 }}{{ $_ := set $server "admin_listen" (printf "0.0.0.0:%d" (int $ctx.Values.server.adminPort)) }}{{ end -}}
{{- with include "helpdesk.publicBaseURL" $ctx }}{{ $_ := set $server "public_base_url" . }}{{ end -}}
{{- $store := get $c "store" -}}
{{- $_ := set $store "migrate_on_start" $ctx.Values.store.migrateOnStart -}}
{{- if $srebot -}}
{{- /* Never the server's store, SQLite or PostgreSQL: one of the Job's own, gone with it. */ -}}
{{- $_ := set $store "path" "/tmp/srebot/helpdesk.sqlite" -}}
{{- $_ := set (get $c "diagnosis") "bundles_dir" "/tmp/srebot/incidents" -}}
{{- else if $ctx.Values.store.postgres.enabled -}}
{{- /* The URL comes from the environment (HELPDESK_STORE_URL_FILE, helpdesk.storeEnv), never from
this ConfigMap. No path, backups or bundles_dir: every row, incident bundles included, is in the
database, and its backups are the database's. */ -}}
{{- $_ := set $store "driver" "postgres" -}}
{{- if eq (include "helpdesk.migrationHook" $ctx) "true" }}{{ $_ := set $store "migrate_on_start" false }}{{ end -}}
{{- else -}}
{{- $_ := set $store "path" "/var/lib/helpdesk/helpdesk.sqlite" -}}
{{- $_ := set $store "busy_timeout" $ctx.Values.store.sqlite.busyTimeout -}}
{{- if $ctx.Values.store.backup.enabled -}}
{{- $_ := set $store "backup_schedule" $ctx.Values.store.backup.schedule -}}
{{- $_ := set $store "backup_keep" (int $ctx.Values.store.backup.keep) -}}
{{- $_ := set $store "backup_dir" (ternary "/var/lib/helpdesk-backups" "/var/lib/helpdesk/backups" $ctx.Values.store.backup.volume.enabled) -}}
{{- end -}}
{{- $_ := set (get $c "diagnosis") "bundles_dir" "/var/lib/helpdesk/incidents" -}}
{{- end -}}
{{- if $ctx.Values.runbooks }}{{ $_ := set (get $c "diagnosis") "runbooks_dir" "/etc/helpdesk/runbooks" }}{{ end -}}
{{- if $ctx.Values.policies }}{{ $_ := set (get $c "policies") "dir" "/etc/helpdesk/policies" }}{{ end -}}
{{- if $ctx.Values.templates.slack }}{{ $_ := set (get $c "slack") "templates_dir" "/etc/helpdesk/templates/slack" }}{{ end -}}
{{- if $ctx.Values.templates.web }}{{ $_ := set (get $c "approvals") "pages_dir" "/etc/helpdesk/templates/web" }}{{ end -}}
{{- if and $ctx.Values.templates.email (not $srebot) }}{{ $_ := set (get $c "smtp") "templates_dir" "/etc/helpdesk/templates/email" }}{{ end -}}
{{- range (include (ternary "helpdesk.srebotSecretFiles" "helpdesk.secretFiles" $srebot) $ctx | fromYaml).files -}}
{{- $node := $c -}}
{{- $path := .path -}}
{{- range $index, $key := initial $path -}}
{{- if not (kindIs "map" (get $node $key)) }}{{ $_ := set $node $key dict }}{{ end -}}
{{- $node = get $node $key -}}
{{- end -}}
{{- $_ := set $node (last $path) (printf "/run/secrets/helpdesk/%s" .file) -}}
{{- end -}}
{{- with $ctx.Values.inventory }}{{ $_ := set $c "infrastructure" . }}{{ end -}}
{{- range $section, $body := $c -}}
{{- if and (kindIs "map" $body) (eq (len $body) 0) }}{{ $_ := unset $c $section }}{{ end -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}

{{/*
The volume `secrets` projecting (list (dict "secret" NAME "key" KEY "file" FILE) …) to
/run/secrets/helpdesk/FILE; nothing when the list is empty.
*/}}
{{- define "helpdesk.projectedSecretVolume" -}}
{{- with . }}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      {{- range . }}
      - secret:
          name: {{ .secret }}
          items:
            - key: {{ .key }}
              path: {{ .file }}
      {{- end }}
{{- end }}
{{- end -}}

{{/* The PostgreSQL store's URL file, for the server and the migrate Job: a list for projectedSecretVolume. */}}
{{- define "helpdesk.storeSecretFiles" -}}
{{- $files := list -}}
{{- if .Values.store.postgres.enabled -}}
{{- $files = append $files (dict "secret" .Values.store.postgres.existingSecret "key" .Values.store.postgres.urlKey "file" "store-url") -}}
{{- end -}}
{{- toYaml (dict "files" $files) -}}
{{- end -}}

{{/* The server's volume of secret files, the pgpass file and the store's URL (srebot has srebotSecretVolume). */}}
{{- define "helpdesk.secretVolume" -}}
{{- $sources := list -}}
{{- range (include "helpdesk.secretFiles" . | fromYaml).files -}}
{{- $sources = append $sources (dict "secret" .secret "key" .key "file" .file) -}}
{{- end -}}
{{- $pg := .Values.secrets.postgresTargets -}}
{{- if and $pg.existingSecret $pg.pgpassKey -}}
{{- $sources = append $sources (dict "secret" $pg.existingSecret "key" $pg.pgpassKey "file" "pgpass") -}}
{{- end -}}
{{- $sources = concat $sources (include "helpdesk.storeSecretFiles" . | fromYaml).files -}}
{{- include "helpdesk.projectedSecretVolume" $sources -}}
{{- end -}}

{{/*
How the server and the migrate Job reach the PostgreSQL store: the URL from its mounted file, and
PGPASSWORD when the password is kept apart. Nothing with SQLite.
*/}}
{{- define "helpdesk.storeEnv" -}}
{{- $pg := .Values.store.postgres -}}
{{- if $pg.enabled }}
# The URL may hold the password: read from the Secret's file, never an environment value.
- name: HELPDESK_STORE_URL_FILE
  value: /run/secrets/helpdesk/store-url
{{- if $pg.password.existingSecret }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $pg.password.existingSecret }}
      key: {{ $pg.password.key }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
srebot's secrets for one check: (dict "ctx" $ "check" $check "local" $local). Server mode: the API
token; local mode: srebotSecretFiles and the pgpass file; either: the Slack bot token if it posts.
*/}}
{{- define "helpdesk.srebotSecretVolume" -}}
{{- $ctx := .ctx -}}
{{- $sources := list -}}
{{- if .local -}}
{{- range (include "helpdesk.srebotSecretFiles" $ctx | fromYaml).files -}}
{{- $sources = append $sources (dict "secret" .secret "key" .key "file" .file) -}}
{{- end -}}
{{- $pg := $ctx.Values.secrets.postgresTargets -}}
{{- if and $pg.existingSecret $pg.pgpassKey -}}
{{- $sources = append $sources (dict "secret" $pg.existingSecret "key" $pg.pgpassKey "file" "pgpass") -}}
{{- end -}}
{{- else -}}
{{- $sources = append $sources (dict "secret" $ctx.Values.srebot.apiToken.existingSecret "key" $ctx.Values.srebot.apiToken.key "file" "api-token") -}}
{{- end -}}
{{- if .check.post -}}
{{- $sources = append $sources (dict "secret" $ctx.Values.secrets.slack.existingSecret "key" $ctx.Values.secrets.slack.botTokenKey "file" "slack-bot-token") -}}
{{- end -}}
{{- include "helpdesk.projectedSecretVolume" $sources -}}
{{- end -}}

{{/* Environment the server and local-mode srebot share. */}}
{{- define "helpdesk.commonEnv" -}}
- name: HELPDESK_CONFIG
  value: /etc/helpdesk/config/helpdesk.yaml
# kubectl keeps its discovery cache under $HOME; the root filesystem is read-only.
- name: HOME
  value: /tmp
{{- $pg := .Values.secrets.postgresTargets }}
{{- if and $pg.existingSecret $pg.passwordKey }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $pg.existingSecret }}
      key: {{ $pg.passwordKey }}
{{- end }}
{{- if and $pg.existingSecret $pg.pgpassKey }}
- name: PGPASSFILE
  value: /tmp/pgpass/pgpass
{{- end }}
{{- end -}}

{{/*
The pgpass file must be 0600 and the reader's own (the database agent refuses anything looser,
as libpq does), which a Secret volume with fsGroup cannot give: an init container copies it.
*/}}
{{- define "helpdesk.pgpassInit" -}}
{{- $pg := .Values.secrets.postgresTargets -}}
{{- if and $pg.existingSecret $pg.pgpassKey }}
- name: pgpass
  image: {{ include "helpdesk.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: [/bin/sh, -c, "mkdir -p /tmp/pgpass && cp /run/secrets/helpdesk/pgpass /tmp/pgpass/pgpass && chmod 0600 /tmp/pgpass/pgpass"]
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    requests: {cpu: 10m, memory: 16Mi}
    limits: {memory: 32Mi}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: secrets
      mountPath: /run/secrets/helpdesk
      readOnly: true
{{- end }}
{{- end -}}

{{/* Mounts of the configuration and content overrides. */}}
{{- define "helpdesk.configMounts" -}}
# A folder, not a subPath: subPath mounts never see a changed ConfigMap.
- name: config
  mountPath: /etc/helpdesk/config
  readOnly: true
{{- if .Values.policies }}
- name: policies
  mountPath: /etc/helpdesk/policies
  readOnly: true
{{- end }}
{{- if .Values.runbooks }}
- name: runbooks
  mountPath: /etc/helpdesk/runbooks
  readOnly: true
{{- end }}
{{- range $kind := list "slack" "email" "web" }}
{{- if get $.Values.templates $kind }}
- name: templates-{{ $kind }}
  mountPath: /etc/helpdesk/templates/{{ $kind }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "helpdesk.configVolumes" -}}
- name: config
  configMap:
    name: {{ include "helpdesk.fullname" . }}
{{- include "helpdesk.contentVolumes" . }}
{{- end -}}

{{/* Volumes of the policy, runbook and template overrides. */}}
{{- define "helpdesk.contentVolumes" -}}
{{- if .Values.policies }}
- name: policies
  configMap:
    name: {{ include "helpdesk.componentName" (dict "ctx" . "suffix" "policies") }}
{{- end }}
{{- if .Values.runbooks }}
- name: runbooks
  configMap:
    name: {{ include "helpdesk.componentName" (dict "ctx" . "suffix" "runbooks") }}
{{- end }}
{{- range $kind := list "slack" "email" "web" }}
{{- if get $.Values.templates $kind }}
- name: templates-{{ $kind }}
  configMap:
    name: {{ include "helpdesk.componentName" (dict "ctx" $ "suffix" (printf "templates-%s" $kind)) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod annotations that roll the pods when their configuration changes. */}}
{{- define "helpdesk.checksums" -}}
checksum/config: {{ include "helpdesk.configYAML" . | sha256sum }}
{{- include "helpdesk.contentChecksums" . }}
{{- end -}}

{{- define "helpdesk.contentChecksums" -}}
{{- with .Values.policies }}
checksum/policies: {{ toYaml . | sha256sum }}
{{- end }}
{{- with .Values.runbooks }}
checksum/runbooks: {{ toYaml . | sha256sum }}
{{- end }}
{{- with .Values.templates }}
{{- if or .slack .email .web }}
checksum/templates: {{ toYaml . | sha256sum }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
NetworkPolicy egress rules: (dict "egress" .Values.networkPolicy.egress "kinds" (list "dns" "https" …)).
A kind with no cidrs allows any address on its ports: the API server, databases and Slack have no
pod labels to select them by.
*/}}
{{- define "helpdesk.egressRules" -}}
{{- $e := .egress -}}
{{- if has "dns" .kinds }}
- to:
    - namespaceSelector:
        {{- toYaml $e.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml $e.dns.podSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
{{- range $kind := list "kubernetesApi" "postgres" "smtp" "https" }}
{{- $rule := get $e $kind }}
{{- if and (has $kind $.kinds) $rule.enabled }}
- ports:
    {{- range $rule.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with $rule.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}
{{- end -}}
