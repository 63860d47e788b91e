{{/*
Checks the combinations values.schema.json cannot express, and fails with a sentence naming the values to change.
Returns nothing.
*/}}
{{- define "dbhook.validate" -}}
{{- $engine := include "dbhook.engineValues" . | fromYaml }}
{{- $name := $engine.name }}
{{- $db := $engine.values }}
{{- if eq $name "spanner" }}
{{- include "dbhook.validateSpanner" . }}
{{- else if $name }}
{{- if not $db.host }}
{{- fail (printf "%s.host is required when %s.enabled is true: the host name or IP address of the server." $name $name) }}
{{- end }}
{{- if not $db.username }}
{{- fail (printf "%s.username is required: the runtime user that owns the databases." $name) }}
{{- end }}
{{- if not (or $db.existingSecret $db.password $db.generatedSecret.enabled) }}
{{- fail (printf "%s.password or %s.existingSecret is required (or %s.generatedSecret.enabled): the runtime user's password, used to create or check that user and by the verify hook and helm test." $name $name $name) }}
{{- end }}
{{- include "dbhook.validateGeneratedSecret" . }}
{{- if and $db.provisioning.enabled $db.provisioning.username (ne $db.provisioning.username $db.username) (not (or $db.provisioning.existingSecret $db.provisioning.password)) }}
{{- fail (printf "%s.provisioning.password or %s.provisioning.existingSecret is required: %s.provisioning.username (%s) differs from the runtime user." $name $name $name $db.provisioning.username) }}
{{- end }}
{{- if and $db.provisioning.enabled (eq (include "dbhook.adminUser" .) $db.username) $db.provisioning.password $db.password (ne $db.provisioning.password $db.password) }}
{{- fail (printf "%s.provisioning.password differs from %s.password, but both are for the user %s: give the password once, in %s.password." $name $name $db.username $name) }}
{{- end }}
{{- if and $db.provisioning.enabled (eq $db.appUser.username $db.username) }}
{{- fail (printf "%s.appUser.username must differ from %s.username: the app user gets data access on the runtime user's tables." $name $name) }}
{{- end }}
{{- if and (not $db.appUser.username) (or $db.appUser.password $db.appUser.existingSecret) }}
{{- fail (printf "%s.appUser.password or existingSecret is set but %s.appUser.username is empty." $name $name) }}
{{- end }}
{{- if not (include "dbhook.databases" . | fromJson) }}
{{- fail (printf "%s.databases lists no database: give at least one key a database name." $name) }}
{{- end }}
{{- $tls := $engine.tls }}
{{- if and $tls.caSecret.name $tls.caConfigMap.name }}
{{- fail (printf "%s.caSecret.name and %s.caConfigMap.name are both set: the CA comes from one of them." $tls.path $tls.path) }}
{{- end }}
{{- $hasCa := or $tls.caSecret.name $tls.caConfigMap.name }}
{{- /* only libpq has these modes (the schema keeps them out of mysql.tls) */}}
{{- if and (has $tls.mode (list "verify-ca" "verify-full")) (not $hasCa) }}
{{- fail (printf "%s %s needs the server's CA: set %s.caSecret.name or %s.caConfigMap.name." $tls.modePath $tls.mode $tls.path $tls.path) }}
{{- end }}
{{- if and (has $tls.mode (list "disable" "false")) (or $hasCa $tls.clientCertSecret.name) }}
{{- fail (printf "%s is %s turns TLS off but %s names certificates: choose one." $tls.modePath $tls.mode $tls.path) }}
{{- end }}
{{- end }}
{{- $backup := .Values.backup }}
{{- if and $backup.enabled (not $name) }}
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
Combinations of generatedSecret that cannot work, each failing with the values to change.
*/}}
{{- define "dbhook.validateGeneratedSecret" -}}
{{- $engine := include "dbhook.engineValues" . | fromYaml }}
{{- $name := $engine.name }}
{{- $db := $engine.values }}
{{- if dig "generatedSecret" "enabled" false $db }}
{{- if not $db.provisioning.enabled }}
{{- fail (printf "%s.generatedSecret.enabled needs %s.provisioning.enabled: only the apply hook makes the database take the password it generates." $name $name) }}
{{- end }}
{{- $generated := include "dbhook.generatedSecrets" . | fromYaml }}
{{- if and (hasKey $generated "owner") (eq (include "dbhook.adminUser" .) $db.username) }}
{{- fail (printf "%s.generatedSecret cannot generate the password of %s: that user provisions (%s.provisioning.username is empty or the same), so dbhook logs in with its password. Set %s.provisioning.username to a user with CREATEROLE, or give %s.password or %s.existingSecret." $name $db.username $name $name $name $name) }}
{{- end }}
{{- if and (hasKey $generated "owner") (hasKey $generated "app") (eq $generated.owner $generated.app) }}
{{- fail (printf "%s.generatedSecret.name and %s.generatedSecret.appName are both %s: each user keeps its own Secret." $name $name $generated.owner) }}
{{- end }}
{{- end }}
{{- end }}
