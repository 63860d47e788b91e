{{/*
The chart name. Truncated at 63 characters because Kubernetes names and label values are limited to that (DNS-1123).
*/}}
{{- define "dbhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified name: release and chart name, once only when the release name already holds the chart name.
Truncated at 52 characters, not 63, because the longest suffix this chart adds ("-credentials") takes 11 more.
*/}}
{{- define "dbhook.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label; "+" is not allowed in a label value.
*/}}
{{- define "dbhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource, so that `kubectl get all -l app.kubernetes.io/instance=<release>` finds the hooks too.
*/}}
{{- define "dbhook.labels" -}}
helm.sh/chart: {{ include "dbhook.chart" . }}
{{ include "dbhook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that identify this release's pods; kept apart from dbhook.labels because they must never change across
upgrades (a version in a selector would orphan the old pods).
*/}}
{{- define "dbhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dbhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The image reference: a digest pins it (the tag then only documents it); the tag defaults to the appVersion.
*/}}
{{- define "dbhook.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The enabled engine, "postgres", "mysql", "spanner" or "" (SQLite lab mode). Fails when two are enabled, so every
template that asks for the engine enforces openZro's rule that they are mutually exclusive.
*/}}
{{- define "dbhook.engine" -}}
{{- if and .Values.postgres.enabled .Values.mysql.enabled }}
{{- fail "postgres.enabled and mysql.enabled are both true: they are mutually exclusive. dbhook provisions one server per release; set one of them to false." }}
{{- else if and .Values.spanner.enabled (or .Values.postgres.enabled .Values.mysql.enabled) }}
{{- fail (printf "spanner.enabled and %s.enabled are both true: they are mutually exclusive. dbhook provisions one engine per release; set one of them to false." (ternary "postgres" "mysql" (not (not .Values.postgres.enabled)))) }}
{{- else if .Values.postgres.enabled }}postgres
{{- else if .Values.mysql.enabled }}mysql
{{- else if .Values.spanner.enabled }}spanner
{{- end }}
{{- end }}

{{/*
Checks the combinations values.schema.json cannot express, and fails with a sentence naming the values to change.
Returns nothing.
*/}}
{{- define "dbhook.validate" -}}
{{- $engine := include "dbhook.engine" . }}
{{- if eq $engine "spanner" }}
{{- include "dbhook.validateSpanner" . }}
{{- else if $engine }}
{{- $db := get .Values $engine }}
{{- if not $db.host }}
{{- fail (printf "%s.host is required when %s.enabled is true: the host name or IP address of the server." $engine $engine) }}
{{- end }}
{{- if not $db.username }}
{{- fail (printf "%s.username is required: the runtime user that owns the databases." $engine) }}
{{- end }}
{{- if not (or $db.existingSecret $db.password $db.generatedSecret.enabled) }}
{{- fail (printf "%s.password or %s.existingSecret is required (or %s.generatedSecret.enabled): the runtime user's password, used to create or check that user and by the verify hook and helm test." $engine $engine $engine) }}
{{- end }}
{{- include "dbhook.validateGeneratedSecret" . }}
{{- if and $db.provisioning.enabled $db.provisioning.username (ne $db.provisioning.username $db.username) (not (or $db.provisioning.existingSecret $db.provisioning.password)) }}
{{- fail (printf "%s.provisioning.password or %s.provisioning.existingSecret is required: %s.provisioning.username (%s) differs from the runtime user." $engine $engine $engine $db.provisioning.username) }}
{{- end }}
{{- if and $db.provisioning.enabled (eq (include "dbhook.adminUser" .) $db.username) $db.provisioning.password $db.password (ne $db.provisioning.password $db.password) }}
{{- fail (printf "%s.provisioning.password differs from %s.password, but both are for the user %s: give the password once, in %s.password." $engine $engine $db.username $engine) }}
{{- end }}
{{- if and $db.provisioning.enabled (eq $db.appUser.username $db.username) }}
{{- fail (printf "%s.appUser.username must differ from %s.username: the app user gets data access on the runtime user's tables." $engine $engine) }}
{{- end }}
{{- if and (not $db.appUser.username) (or $db.appUser.password $db.appUser.existingSecret) }}
{{- fail (printf "%s.appUser.password or existingSecret is set but %s.appUser.username is empty." $engine $engine) }}
{{- end }}
{{- if not (include "dbhook.databases" . | fromJson) }}
{{- fail (printf "%s.databases lists no database: give at least one key a database name." $engine) }}
{{- end }}
{{- $tls := include "dbhook.tlsBlock" . | fromYaml }}
{{- if and $tls.caSecret.name $tls.caConfigMap.name }}
{{- fail (printf "%s.caSecret.name and %s.caConfigMap.name are both set: the CA comes from one of them." (include "dbhook.tlsPath" .) (include "dbhook.tlsPath" .)) }}
{{- end }}
{{- $mode := include "dbhook.sslMode" . }}
{{- $hasCa := or $tls.caSecret.name $tls.caConfigMap.name }}
{{- if and (eq $engine "postgres") (has $mode (list "verify-ca" "verify-full")) (not $hasCa) }}
{{- fail (printf "postgres.sslMode %s needs the server's CA: set postgres.tls.caSecret.name or postgres.tls.caConfigMap.name." $mode) }}
{{- end }}
{{- if and (has $mode (list "disable" "false")) (or $hasCa $tls.clientCertSecret.name) }}
{{- fail (printf "%s turns TLS off but %s names certificates: choose one." (ternary "postgres.sslMode is disable" "mysql.tls is false" (eq $engine "postgres")) (include "dbhook.tlsPath" .)) }}
{{- end }}
{{- end }}
{{- $backup := .Values.backup }}
{{- if and $backup.enabled (not $engine) }}
{{- fail "backup.enabled is true but neither postgres.enabled nor mysql.enabled is: there is no database server to back up." }}
{{- end }}
{{- if and $backup.drill.enabled (not $backup.enabled) }}
{{- fail "backup.drill.enabled is true but backup.enabled is false: the drill restores the backups the backup CronJob writes." }}
{{- end }}
{{- if and $backup.enabled (not (or $backup.persistence.existingClaim $backup.persistence.size)) }}
{{- fail "backup.persistence.existingClaim or backup.persistence.size is required when backup.enabled is true: the backups need a volume that outlives the pod." }}
{{- end }}
{{- if and $backup.persistence.existingClaim $backup.persistence.size }}
{{- fail (printf "backup.persistence.existingClaim (%s) and backup.persistence.size are both set: the chart creates a claim of that size only when there is no existing one; set one of them." $backup.persistence.existingClaim) }}
{{- end }}
{{- end }}

{{/*
The spanner block's own rules: no server, users or passwords, but a project, an instance and databases, and no
backups (Spanner's are managed by Google, docs/spanner.md). Returns nothing.
*/}}
{{- define "dbhook.validateSpanner" -}}
{{- $spanner := .Values.spanner }}
{{- if not $spanner.project }}
{{- fail "spanner.project is required when spanner.enabled is true: the Google Cloud project id of the instance." }}
{{- end }}
{{- if not $spanner.instance }}
{{- fail "spanner.instance is required when spanner.enabled is true: the id of the Spanner instance that holds the databases (dbhook never creates the instance)." }}
{{- end }}
{{- if not (include "dbhook.databases" . | fromJson) }}
{{- fail "spanner.databases lists no database: give at least one key a database id." }}
{{- end }}
{{- if .Values.backup.enabled }}
{{- fail "backup.enabled is true but spanner.enabled is: dbhook backup does not run on Spanner; use Spanner's managed backups and backup schedules (docs/spanner.md)." }}
{{- end }}
{{- end }}

{{/*
The certificate block of the enabled engine: postgres.tls, or mysql.certificates (mysql.tls is the mode word).
*/}}
{{- define "dbhook.tlsBlock" -}}
{{- if eq (include "dbhook.engine" .) "postgres" }}
{{- toYaml .Values.postgres.tls }}
{{- else }}
{{- toYaml .Values.mysql.certificates }}
{{- end }}
{{- end }}

{{- define "dbhook.tlsPath" -}}
{{- ternary "postgres.tls" "mysql.certificates" (eq (include "dbhook.engine" .) "postgres") }}
{{- end }}

{{/*
DBHOOK_SSLMODE: postgres.sslMode, or mysql.tls as written (true and false may arrive as YAML booleans).
*/}}
{{- define "dbhook.sslMode" -}}
{{- if eq (include "dbhook.engine" .) "postgres" }}
{{- .Values.postgres.sslMode }}
{{- else }}
{{- toString .Values.mysql.tls }}
{{- end }}
{{- end }}

{{/*
DBHOOK_DATABASES as a JSON object (key -> name), keys with an empty name left out. JSON keeps names with commas
or equals signs intact.
*/}}
{{- define "dbhook.databases" -}}
{{- $db := get .Values (include "dbhook.engine" .) }}
{{- $out := dict }}
{{- range $key, $name := $db.databases }}
{{- if $name }}{{- $_ := set $out $key (toString $name) }}{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{- define "dbhook.adminUser" -}}
{{- $db := get .Values (include "dbhook.engine" .) }}
{{- $db.provisioning.username | default $db.username }}
{{- end }}

{{/*
Name of the hook Secret holding the passwords given inline in the values.
*/}}
{{- define "dbhook.credentialsSecret" -}}
{{- printf "%s-credentials" (include "dbhook.fullname" .) }}
{{- end }}

{{/*
Where each password comes from, as YAML: role -> {secret, key}. Roles: owner (runtime user), admin (provisioning
user, only when it differs from the runtime user), app. An existing Secret wins over an inline password; inline
passwords go to the chart's credentials Secret. A role without a password is absent.
*/}}
{{- define "dbhook.passwordSources" -}}
{{- if eq (include "dbhook.engine" .) "spanner" }}
{{- /* Spanner has no passwords: the pod calls it as its Google identity. */}}
{{- toYaml dict }}
{{- else }}
{{- $db := get .Values (include "dbhook.engine" .) }}
{{- $credentials := include "dbhook.credentialsSecret" . }}
{{- $sources := dict }}
{{- $generated := include "dbhook.generatedSecrets" . | fromYaml }}
{{- if $db.existingSecret }}
{{- $_ := set $sources "owner" (dict "secret" $db.existingSecret "key" $db.existingSecretKey "inline" false) }}
{{- else if $db.password }}
{{- $_ := set $sources "owner" (dict "secret" $credentials "key" "owner-password" "inline" true) }}
{{- else if hasKey $generated "owner" }}
{{- $_ := set $sources "owner" (dict "secret" $generated.owner "key" "password" "inline" false "generated" true) }}
{{- end }}
{{- if ne (include "dbhook.adminUser" .) $db.username }}
{{- if $db.provisioning.existingSecret }}
{{- $_ := set $sources "admin" (dict "secret" $db.provisioning.existingSecret "key" $db.provisioning.existingSecretKey "inline" false) }}
{{- else if $db.provisioning.password }}
{{- $_ := set $sources "admin" (dict "secret" $credentials "key" "admin-password" "inline" true) }}
{{- end }}
{{- end }}
{{- if $db.appUser.username }}
{{- if $db.appUser.existingSecret }}
{{- $_ := set $sources "app" (dict "secret" $db.appUser.existingSecret "key" $db.appUser.existingSecretKey "inline" false) }}
{{- else if $db.appUser.password }}
{{- $_ := set $sources "app" (dict "secret" $credentials "key" "app-password" "inline" true) }}
{{- else if hasKey $generated "app" }}
{{- $_ := set $sources "app" (dict "secret" $generated.app "key" "password" "inline" false "generated" true) }}
{{- end }}
{{- end }}
{{- toYaml $sources }}
{{- end }}
{{- end }}

{{/*
Hook annotations for Helm and the same meaning for Argo CD (which maps pre-* to PreSync and reads its own delete
policy words). Takes a dict: root, events (list), weight (int), deletePolicy (comma-separated Helm words).
*/}}
{{- define "dbhook.hookAnnotations" -}}
{{- $argoPolicies := dict "before-hook-creation" "BeforeHookCreation" "hook-succeeded" "HookSucceeded" "hook-failed" "HookFailed" }}
{{- $helmPolicies := list }}
{{- $argo := list }}
{{- range (splitList "," .deletePolicy) }}
{{- $p := trim . }}
{{- if $p }}
{{- $helmPolicies = append $helmPolicies $p }}
{{- $argo = append $argo (get $argoPolicies $p) }}
{{- end }}
{{- end }}
{{- $phase := "PostSync" }}
{{- range .events }}{{- if hasPrefix "pre-" . }}{{- $phase = "PreSync" }}{{- end }}{{- end -}}
helm.sh/hook: {{ join "," .events | quote }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: {{ join "," $helmPolicies | quote }}
argocd.argoproj.io/hook: {{ $phase }}
argocd.argoproj.io/hook-delete-policy: {{ join "," $argo | quote }}
argocd.argoproj.io/sync-wave: {{ .weight | quote }}
{{- end }}

{{/*
Events of the Secrets and ServiceAccount the pods need: the Job's events, plus `test` for the helm test pod,
which runs after the hook Secrets were deleted on success.
*/}}
{{- define "dbhook.supportEvents" -}}
{{- $events := .Values.hook.events }}
{{- if .Values.tests.enabled }}{{- $events = append $events "test" }}{{- end }}
{{- toJson $events }}
{{- end }}

{{- define "dbhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dbhook.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The environment of a dbhook container. Takes a dict: root, command ("apply" or "verify"). Passwords are never
values here, only *_FILE paths to the mounted Secret files. verify gets the whole provisioning picture too (app
user, extensions), so that `dbhook sql` run with the same environment prints everything a DBA must run.
*/}}
{{- define "dbhook.env" -}}
{{- $root := .root }}
{{- $engine := include "dbhook.engine" $root }}
{{- $db := get $root.Values $engine }}
{{- $sources := include "dbhook.passwordSources" $root | fromYaml }}
{{- $tls := include "dbhook.tlsBlock" $root | fromYaml -}}
- name: DBHOOK_ENGINE
  value: {{ $engine }}
- name: DBHOOK_HOST
  value: {{ $db.host | quote }}
- name: DBHOOK_PORT
  value: {{ $db.port | quote }}
{{- $asAdmin := has .command (list "apply" "backup" "drill") }}
{{- if $asAdmin }}
- name: DBHOOK_ADMIN_USER
  value: {{ include "dbhook.adminUser" $root | quote }}
- name: DBHOOK_ADMIN_PASSWORD_FILE
  value: {{ ternary "/var/run/secrets/dbhook/admin/password" "/var/run/secrets/dbhook/owner/password" (hasKey $sources "admin") }}
{{- end }}
{{- if eq $engine "postgres" }}
- name: DBHOOK_ADMIN_DATABASE
  value: {{ $db.adminDatabase | quote }}
{{- end }}
- name: DBHOOK_OWNER
  value: {{ $db.username | quote }}
{{- $scheduled := has .command (list "backup" "drill") }}
{{- if and (eq .command "apply") (get (get $sources "owner" | default dict) "generated") }}
- name: DBHOOK_OWNER_GENERATED_SECRET
  value: {{ $sources.owner.secret | quote }}
{{- else if and (not $scheduled) (or (not $asAdmin) (hasKey $sources "admin")) }}
- name: DBHOOK_OWNER_PASSWORD_FILE
  value: /var/run/secrets/dbhook/owner/password
{{- end }}
{{- if $db.appUser.username }}
- name: DBHOOK_APP_USER
  value: {{ $db.appUser.username | quote }}
{{- if and (eq .command "apply") (hasKey $sources "app") }}
{{- if $sources.app.generated }}
- name: DBHOOK_APP_GENERATED_SECRET
  value: {{ $sources.app.secret | quote }}
{{- else }}
- name: DBHOOK_APP_PASSWORD_FILE
  value: /var/run/secrets/dbhook/app/password
{{- end }}
{{- end }}
{{- end }}
- name: DBHOOK_DATABASES
  value: {{ include "dbhook.databases" $root | quote }}
{{- if eq $engine "postgres" }}
{{- if $db.extensions }}
- name: DBHOOK_EXTENSIONS
  value: {{ join "," $db.extensions | quote }}
{{- end }}
- name: DBHOOK_EVENT_TRIGGER
  {{- /* YAML 1.1 reads an unquoted on/off as a boolean */}}
  value: {{ ternary (ternary "on" "off" (eq (toString $db.eventTrigger) "true")) $db.eventTrigger (kindIs "bool" $db.eventTrigger) | quote }}
{{- end }}
- name: DBHOOK_SSLMODE
  value: {{ include "dbhook.sslMode" $root | quote }}
{{- if or $tls.caSecret.name $tls.caConfigMap.name }}
- name: DBHOOK_SSLROOTCERT
  value: /var/run/secrets/dbhook/ca/ca.crt
{{- end }}
{{- if $tls.clientCertSecret.name }}
- name: DBHOOK_SSLCERT
  value: /var/run/secrets/dbhook/client/tls.crt
- name: DBHOOK_SSLKEY
  value: /var/run/secrets/dbhook/client/tls.key
{{- end }}
{{- if eq $engine "mysql" }}
- name: DBHOOK_MYSQL_CHARSET
  value: {{ $db.charset | quote }}
{{- if $db.collation }}
- name: DBHOOK_MYSQL_COLLATION
  value: {{ $db.collation | quote }}
{{- end }}
- name: DBHOOK_MYSQL_USER_HOST
  value: {{ $db.userHost | quote }}
- name: DBHOOK_MYSQL_REQUIRE_SSL
  value: {{ $db.requireSsl | quote }}
{{- end }}
- name: DBHOOK_WAIT_TIMEOUT
  value: {{ $root.Values.waitTimeout | quote }}
- name: DBHOOK_CONNECT_TIMEOUT
  value: {{ $root.Values.connectTimeout | quote }}
- name: DBHOOK_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: DBHOOK_LOG_FORMAT
  value: {{ $root.Values.logFormat | quote }}
{{- if has .command (list "backup" "drill") }}
- name: DBHOOK_BACKUP_DIR
  value: /var/backups/dbhook
- name: DBHOOK_BACKUP_KEEP_DAYS
  value: {{ $root.Values.backup.keepDays | quote }}
{{- if $root.Values.backup.encryption.existingSecret }}
- name: DBHOOK_BACKUP_KEY_FILE
  value: /var/run/secrets/dbhook/backup-key/key
{{- end }}
- name: TMPDIR
  value: /tmp
{{- end }}
{{- end }}

{{/*
The environment of a dbhook container on Spanner: no server, user or password, only where the databases live.
Takes a dict: root, command. Credentials are the pod's Google identity (workload identity), never a value here.
*/}}
{{- define "dbhook.spannerEnv" -}}
{{- $root := .root }}
{{- $spanner := $root.Values.spanner -}}
- name: DBHOOK_ENGINE
  value: spanner
- name: DBHOOK_SPANNER_PROJECT
  value: {{ $spanner.project | quote }}
- name: DBHOOK_SPANNER_INSTANCE
  value: {{ $spanner.instance | quote }}
- name: DBHOOK_DATABASES
  value: {{ include "dbhook.databases" $root | quote }}
{{- if $spanner.emulatorHost }}
- name: SPANNER_EMULATOR_HOST
  value: {{ $spanner.emulatorHost | quote }}
{{- end }}
- name: DBHOOK_WAIT_TIMEOUT
  value: {{ $root.Values.waitTimeout | quote }}
- name: DBHOOK_CONNECT_TIMEOUT
  value: {{ $root.Values.connectTimeout | quote }}
- name: DBHOOK_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: DBHOOK_LOG_FORMAT
  value: {{ $root.Values.logFormat | quote }}
{{- end }}

{{/*
The image of the Spanner pods: the -spanner variant of the same image, which adds Google's client library.
*/}}
{{- define "dbhook.spannerImage" -}}
{{- $image := .Values.spanner.image }}
{{- $repository := $image.repository | default .Values.image.repository }}
{{- $tag := $image.tag | default (printf "%s-spanner" .Chart.AppVersion) }}
{{- if $image.digest }}
{{- printf "%s:%s@%s" $repository $tag $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}
{{- end }}

{{/*
Volumes and their mounts, as YAML {volumes: [...], mounts: [...]}. Takes a dict: root, command. Every password
is its own volume (they may come from different Secrets), mounted as one file with mode 0400 (256); certificates
0444 (292), the client key 0400. Modes are decimal because YAML 1.2 readers take 0400 for four hundred.
*/}}
{{- define "dbhook.volumes" -}}
{{- $root := .root }}
{{- $sources := include "dbhook.passwordSources" $root | fromYaml }}
{{- $tls := include "dbhook.tlsBlock" $root | fromYaml }}
{{- $roles := list "owner" }}
{{- if eq .command "apply" }}{{- $roles = list "admin" "owner" "app" }}{{- end }}
{{- $scheduled := has .command (list "backup" "drill") }}
{{- /* backup, restore and drill connect only as the admin user: one password, the runtime user's when it is the admin */}}
{{- if $scheduled }}{{- $roles = list (ternary "admin" "owner" (hasKey $sources "admin")) }}{{- end }}
{{- $volumes := list }}
{{- $mounts := list }}
{{- $command := .command }}
{{- range $roles }}
{{- if and (hasKey $sources .) (not (and (eq $command "apply") (get $sources .).generated)) }}
{{- $source := get $sources . }}
{{- if and $scheduled $source.inline }}{{- $source = merge (dict "secret" (include "dbhook.backupCredentialsSecret" $root)) $source }}{{- end }}
{{- $volumes = append $volumes (dict "name" (printf "%s-password" .) "secret" (dict "secretName" $source.secret "defaultMode" 256 "items" (list (dict "key" $source.key "path" "password" "mode" 256)))) }}
{{- $mounts = append $mounts (dict "name" (printf "%s-password" .) "mountPath" (printf "/var/run/secrets/dbhook/%s" .) "readOnly" true) }}
{{- end }}
{{- end }}
{{- if $tls.caSecret.name }}
{{- $volumes = append $volumes (dict "name" "ca" "secret" (dict "secretName" $tls.caSecret.name "defaultMode" 292 "items" (list (dict "key" $tls.caSecret.key "path" "ca.crt" "mode" 292)))) }}
{{- else if $tls.caConfigMap.name }}
{{- $volumes = append $volumes (dict "name" "ca" "configMap" (dict "name" $tls.caConfigMap.name "defaultMode" 292 "items" (list (dict "key" $tls.caConfigMap.key "path" "ca.crt" "mode" 292)))) }}
{{- end }}
{{- if or $tls.caSecret.name $tls.caConfigMap.name }}
{{- $mounts = append $mounts (dict "name" "ca" "mountPath" "/var/run/secrets/dbhook/ca" "readOnly" true) }}
{{- end }}
{{- if $tls.clientCertSecret.name }}
{{- $items := list (dict "key" $tls.clientCertSecret.certKey "path" "tls.crt" "mode" 292) (dict "key" $tls.clientCertSecret.keyKey "path" "tls.key" "mode" 256) }}
{{- $volumes = append $volumes (dict "name" "client-cert" "secret" (dict "secretName" $tls.clientCertSecret.name "defaultMode" 256 "items" $items)) }}
{{- $mounts = append $mounts (dict "name" "client-cert" "mountPath" "/var/run/secrets/dbhook/client" "readOnly" true) }}
{{- end }}
{{- if and (eq .command "apply") (include "dbhook.generatedSecrets" $root | fromYaml) }}
{{- $volumes = append $volumes (include "dbhook.apiTokenVolume" $root | fromYaml) }}
{{- $mounts = append $mounts (dict "name" "kube-api-access" "mountPath" "/var/run/secrets/kubernetes.io/serviceaccount" "readOnly" true) }}
{{- end }}
{{- if $scheduled }}
{{- $backup := $root.Values.backup }}
{{- $volumes = append $volumes (dict "name" "backups" "persistentVolumeClaim" (dict "claimName" (include "dbhook.backupClaim" $root) "readOnly" (eq .command "drill"))) }}
{{- $mounts = append $mounts (dict "name" "backups" "mountPath" "/var/backups/dbhook" "readOnly" (eq .command "drill")) }}
{{- if $backup.encryption.existingSecret }}
{{- $volumes = append $volumes (dict "name" "backup-key" "secret" (dict "secretName" $backup.encryption.existingSecret "defaultMode" 256 "items" (list (dict "key" $backup.encryption.key "path" "key" "mode" 256)))) }}
{{- $mounts = append $mounts (dict "name" "backup-key" "mountPath" "/var/run/secrets/dbhook/backup-key" "readOnly" true) }}
{{- end }}
{{- $volumes = append $volumes (dict "name" "tmp" "emptyDir" (dict "sizeLimit" "1Gi")) }}
{{- $mounts = append $mounts (dict "name" "tmp" "mountPath" "/tmp") }}
{{- end }}
{{- toYaml (dict "volumes" $volumes "mounts" $mounts) }}
{{- end }}

{{/*
The pod spec shared by the apply Job, the verify Job, the helm test pod and the backup and drill CronJobs. Takes
a dict: root, command. backup and drill run the -pgtools image with their own resources.
*/}}
{{- define "dbhook.podSpec" -}}
{{- $root := .root }}
{{- $spanner := eq (include "dbhook.engine" $root) "spanner" }}
{{- $volumes := include "dbhook.volumes" . | fromYaml -}}
restartPolicy: Never
automountServiceAccountToken: false
enableServiceLinks: false
{{- if and (eq .command "apply") (include "dbhook.generatedSecrets" $root | fromYaml) }}
serviceAccountName: {{ include "dbhook.secretWriterName" $root }}
{{- else }}
{{- with include "dbhook.serviceAccountName" $root }}
serviceAccountName: {{ . }}
{{- end }}
{{- end }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: dbhook
    image: {{ ternary (include "dbhook.spannerImage" $root) (ternary (include "dbhook.backupImage" $root) (include "dbhook.image" $root) (has .command (list "backup" "drill"))) $spanner | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args:
      - {{ .command }}
    env:
      {{- include (ternary "dbhook.spannerEnv" "dbhook.env" $spanner) . | nindent 6 }}
    resources:
      {{- toYaml (ternary $root.Values.spanner.resources (ternary $root.Values.backup.resources $root.Values.resources (has .command (list "backup" "drill"))) $spanner) | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    terminationMessagePolicy: FallbackToLogsOnError
    {{- with $volumes.mounts }}
    volumeMounts:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- with $volumes.volumes }}
volumes:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Pod template metadata: selector labels, a component label, then the user's podLabels and podAnnotations.
Takes a dict: root, component.
*/}}
{{- define "dbhook.podMetadata" -}}
labels:
  {{- include "dbhook.selectorLabels" .root | nindent 2 }}
  app.kubernetes.io/component: {{ .component }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .root.Values.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The command that prints the SQL a DBA must run for this release: `dbhook sql` connects to nothing and reads
only these non-secret settings. Quoted for a POSIX shell.
*/}}
{{- define "dbhook.sqlCommand" -}}
{{- $engine := include "dbhook.engine" . }}
{{- $db := get .Values $engine }}
{{- $env := list (printf "DBHOOK_ENGINE=%s" $engine) (printf "DBHOOK_OWNER=%s" $db.username) (printf "DBHOOK_DATABASES=%s" (include "dbhook.databases" .)) }}
{{- $image := include "dbhook.image" . }}
{{- if eq $engine "spanner" }}
{{- /* On Spanner `dbhook sql` prints the gcloud commands that create the databases. */}}
{{- $env = list "DBHOOK_ENGINE=spanner" (printf "DBHOOK_SPANNER_PROJECT=%s" $db.project) (printf "DBHOOK_SPANNER_INSTANCE=%s" $db.instance) (printf "DBHOOK_DATABASES=%s" (include "dbhook.databases" .)) }}
{{- $image = include "dbhook.spannerImage" . }}
{{- else }}
{{- if $db.appUser.username }}{{- $env = append $env (printf "DBHOOK_APP_USER=%s" $db.appUser.username) }}{{- end }}
{{- end }}
{{- if and (eq $engine "postgres") $db.extensions }}{{- $env = append $env (printf "DBHOOK_EXTENSIONS=%s" (join "," $db.extensions)) }}{{- end }}
{{- if eq $engine "mysql" }}
{{- $env = append $env (printf "DBHOOK_MYSQL_CHARSET=%s" $db.charset) }}
{{- if $db.collation }}{{- $env = append $env (printf "DBHOOK_MYSQL_COLLATION=%s" $db.collation) }}{{- end }}
{{- $env = append $env (printf "DBHOOK_MYSQL_USER_HOST=%s" $db.userHost) }}
{{- end }}
{{- $args := list }}
{{- range $env }}{{- $args = append $args (printf "--env='%s'" (replace "'" "'\\''" .)) }}{{- end }}
{{- printf "kubectl run %s-sql --namespace %s --rm -i --restart=Never --image=%s %s -- sql" (include "dbhook.fullname" .) .Release.Namespace $image (join " " $args) }}
{{- end }}

{{/*
The image of the backup and drill pods: the -pgtools variant of the same image, which adds pg_dump, pg_restore
and mariadb-dump to what the provisioning image holds.
*/}}
{{- define "dbhook.backupImage" -}}
{{- $image := .Values.backup.image }}
{{- $repository := $image.repository | default .Values.image.repository }}
{{- $tag := $image.tag | default (printf "%s-pgtools" .Chart.AppVersion) }}
{{- if $image.digest }}
{{- printf "%s:%s@%s" $repository $tag $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}
{{- end }}

{{/*
Name of a CronJob: at most 52 characters, because the controller appends an 11-character suffix to the Jobs it
creates and Job names become pod labels (63 characters). Takes a dict: root, suffix.
*/}}
{{- define "dbhook.cronJobName" -}}
{{- printf "%s-%s" (include "dbhook.fullname" .root | trunc (int (sub 51 (len .suffix))) | trimSuffix "-") .suffix }}
{{- end }}

{{/*
The ordinary (non-hook) Secret the CronJobs read. The hook credentials Secret is deleted once the hooks succeed,
so that no password outlives an install; a CronJob runs every night, so the one password it needs (the
provisioning user's, or the runtime user's when that user provisions) lives in a Secret of its own for as long
as backups are enabled.
*/}}
{{- define "dbhook.backupCredentialsSecret" -}}
{{- printf "%s-backup-credentials" (include "dbhook.fullname" .) }}
{{- end }}

{{/*
The PersistentVolumeClaim the backups go to: the existing one, or the one the chart creates.
*/}}
{{- define "dbhook.backupClaim" -}}
{{- .Values.backup.persistence.existingClaim | default (printf "%s-backups" (include "dbhook.fullname" .)) }}
{{- end }}

{{/*
The backup and drill CronJobs. Takes a dict: root, command ("backup" or "drill"), schedule.
*/}}
{{- define "dbhook.cronJob" -}}
{{- $root := .root }}
{{- $backup := $root.Values.backup -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "dbhook.cronJobName" (dict "root" $root "suffix" .command) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "dbhook.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .command }}
spec:
  schedule: {{ .schedule | quote }}
  {{- with $backup.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  {{- /* A backup still running when the next one is due must finish; two dumps at once only load the server. */}}
  concurrencyPolicy: Forbid
  suspend: {{ $backup.suspend }}
  successfulJobsHistoryLimit: {{ $backup.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $backup.failedJobsHistoryLimit }}
  {{- if not (kindIs "invalid" $backup.startingDeadlineSeconds) }}
  startingDeadlineSeconds: {{ $backup.startingDeadlineSeconds }}
  {{- end }}
  jobTemplate:
    metadata:
      labels:
        {{- include "dbhook.selectorLabels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .command }}
    spec:
      backoffLimit: {{ $backup.backoffLimit }}
      activeDeadlineSeconds: {{ $backup.activeDeadlineSeconds }}
      template:
        metadata:
          {{- include "dbhook.podMetadata" (dict "root" $root "component" .command) | nindent 10 }}
        spec:
          {{- include "dbhook.podSpec" (dict "root" $root "command" .command) | nindent 10 }}
{{- end }}

{{/*
The Secrets the hook generates passwords into, as YAML: role (owner, app) -> Secret name, for each role whose
password is neither inline nor in an existingSecret while <engine>.generatedSecret.enabled. Empty when nothing is
generated: then no RBAC, no token and no API egress are rendered.
*/}}
{{- define "dbhook.generatedSecrets" -}}
{{- $engine := include "dbhook.engine" . }}
{{- $out := dict }}
{{- if $engine }}
{{- $db := get .Values $engine }}
{{- if and (dig "generatedSecret" "enabled" false $db) $db.provisioning.enabled }}
{{- if not (or $db.existingSecret $db.password) }}
{{- $_ := set $out "owner" ($db.generatedSecret.name | default (printf "%s-%s-credentials" .Release.Name $engine)) }}
{{- end }}
{{- if and $db.appUser.username (not (or $db.appUser.existingSecret $db.appUser.password)) }}
{{- $_ := set $out "app" ($db.generatedSecret.appName | default (printf "%s-%s-app-credentials" .Release.Name $engine)) }}
{{- end }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
Combinations of generatedSecret that cannot work, each failing with the values to change.
*/}}
{{- define "dbhook.validateGeneratedSecret" -}}
{{- $engine := include "dbhook.engine" . }}
{{- $db := get .Values $engine }}
{{- if dig "generatedSecret" "enabled" false $db }}
{{- if not $db.provisioning.enabled }}
{{- fail (printf "%s.generatedSecret.enabled needs %s.provisioning.enabled: only the apply hook makes the database take the password it generates." $engine $engine) }}
{{- end }}
{{- $generated := include "dbhook.generatedSecrets" . | fromYaml }}
{{- if and (hasKey $generated "owner") (eq (include "dbhook.adminUser" .) $db.username) }}
{{- fail (printf "%s.generatedSecret cannot generate the password of %s: that user provisions (%s.provisioning.username is empty or the same), so dbhook logs in with its password. Set %s.provisioning.username to a user with CREATEROLE, or give %s.password or %s.existingSecret." $engine $db.username $engine $engine $engine $engine) }}
{{- end }}
{{- if and (hasKey $generated "owner") (hasKey $generated "app") (eq $generated.owner $generated.app) }}
{{- fail (printf "%s.generatedSecret.name and %s.generatedSecret.appName are both %s: each user keeps its own Secret." $engine $engine $generated.owner) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount the apply hook runs as when it generates passwords; bound to the Role that may create Secrets and
get and patch the named ones, and to nothing else.
*/}}
{{- define "dbhook.secretWriterName" -}}
{{- printf "%s-secrets" (include "dbhook.fullname" .) }}
{{- end }}

{{/*
The apply hook's projected service account volume, the one way a token reaches a pod of this chart: bound to the
pod and to the audience, short-lived, with the API server's CA (the kube-root-ca.crt ConfigMap every namespace
holds) and the namespace, where in-cluster clients look for them. Mode 0400; fsGroup makes it readable by 65532.
*/}}
{{- define "dbhook.apiTokenVolume" -}}
{{- $token := dict "path" "token" "expirationSeconds" (int .Values.kubernetesApi.tokenExpirationSeconds) }}
{{- with .Values.kubernetesApi.tokenAudience }}{{- $_ := set $token "audience" . }}{{- end }}
name: kube-api-access
projected:
  defaultMode: 256
  sources:
    - serviceAccountToken:
        {{- toYaml $token | nindent 8 }}
    - configMap:
        name: kube-root-ca.crt
        items:
          - key: ca.crt
            path: ca.crt
    - downwardAPI:
        items:
          - path: namespace
            fieldRef:
              apiVersion: v1
              fieldPath: metadata.namespace
{{- end }}

{{/*
Egress every pod of the chart needs, as a YAML list of NetworkPolicyEgressRule: DNS, the database (an ipBlock of
the one address when the host is an IP, else the selectors or CIDRs networkPolicy.database gives), and
networkPolicy.extraEgress.
*/}}
{{- define "dbhook.networkEgress" -}}
{{- $engine := include "dbhook.engine" . }}
{{- $db := get .Values $engine }}
{{- $policy := .Values.networkPolicy }}
{{- $dnsPeer := dict }}
{{- with $policy.dns.namespaceSelector }}{{- $_ := set $dnsPeer "namespaceSelector" . }}{{- end }}
{{- with $policy.dns.podSelector }}{{- $_ := set $dnsPeer "podSelector" . }}{{- end }}
{{- $rules := list (dict "to" (list $dnsPeer) "ports" (list (dict "protocol" "UDP" "port" 53) (dict "protocol" "TCP" "port" 53))) }}
{{- $host := toString $db.host }}
{{- $to := list }}
{{- if regexMatch "^[0-9]{1,3}([.][0-9]{1,3}){3}$" $host }}
{{- $to = append $to (dict "ipBlock" (dict "cidr" (printf "%s/32" $host))) }}
{{- else if contains ":" $host }}
{{- $to = append $to (dict "ipBlock" (dict "cidr" (printf "%s/128" (trimAll "[]" $host)))) }}
{{- else }}
{{- $selected := dict }}
{{- with $policy.database.namespaceSelector }}{{- $_ := set $selected "namespaceSelector" . }}{{- end }}
{{- with $policy.database.podSelector }}{{- $_ := set $selected "podSelector" . }}{{- end }}
{{- if $selected }}{{- $to = append $to $selected }}{{- end }}
{{- range $policy.database.cidrs }}{{- $to = append $to (dict "ipBlock" (dict "cidr" .)) }}{{- end }}
{{- if not $to }}
{{- fail (printf "networkPolicy.database needs a namespaceSelector or podSelector of the database's pods, or its cidrs: %s.host (%s) is a name, which a NetworkPolicy cannot match." $engine $host) }}
{{- end }}
{{- end }}
{{- $rules = append $rules (dict "to" $to "ports" (list (dict "protocol" "TCP" "port" (int $db.port)))) }}
{{- range $policy.extraEgress }}{{- $rules = append $rules . }}{{- end }}
{{- toYaml $rules }}
{{- end }}
