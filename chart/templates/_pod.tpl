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
The environment of a dbhook container. Takes a dict: root, command ("apply" or "verify"). Passwords are never
values here, only *_FILE paths to the mounted Secret files. verify gets the whole provisioning picture too (app
user, extensions), so that `dbhook sql` run with the same environment prints everything a DBA must run.
*/}}
{{- define "dbhook.env" -}}
{{- $root := .root }}
{{- $engine := include "dbhook.engineValues" $root | fromYaml }}
{{- $db := $engine.values }}
{{- $tls := $engine.tls }}
{{- $sources := include "dbhook.passwordSources" $root | fromYaml -}}
- name: DBHOOK_ENGINE
  value: {{ $engine.name }}
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
{{- if eq $engine.name "postgres" }}
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
{{- if eq $engine.name "postgres" }}
{{- if $db.extensions }}
- name: DBHOOK_EXTENSIONS
  value: {{ join "," $db.extensions | quote }}
{{- end }}
- name: DBHOOK_EVENT_TRIGGER
  {{- /* YAML 1.1 reads an unquoted on/off as a boolean */}}
  value: {{ ternary (ternary "on" "off" (eq (toString $db.eventTrigger) "true")) $db.eventTrigger (kindIs "bool" $db.eventTrigger) | quote }}
{{- end }}
- name: DBHOOK_SSLMODE
  value: {{ $tls.mode | quote }}
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
{{- if eq $engine.name "mysql" }}
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
Volumes and their mounts, as YAML {volumes: [...], mounts: [...]}. Takes a dict: root, command. Every password
is its own volume (they may come from different Secrets), mounted as one file with mode 0400 (256); certificates
0444 (292), the client key 0400. Modes are decimal because YAML 1.2 readers take 0400 for four hundred.
*/}}
{{- define "dbhook.volumes" -}}
{{- $root := .root }}
{{- $sources := include "dbhook.passwordSources" $root | fromYaml }}
{{- $tls := (include "dbhook.engineValues" $root | fromYaml).tls }}
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
