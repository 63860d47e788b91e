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
The enabled engine as the templates read it, as YAML, so that they compare engine names only where the engines
really differ:
- name: dbhook.engine;
- values: its block of values ({} in SQLite lab mode);
- tls: the certificate block (postgres.tls, or mysql.certificates: mysql.tls is the mode word) with path (that
  block's place in the values), modePath (postgres.sslMode or mysql.tls) and mode (DBHOOK_SSLMODE, a string: mysql.tls
  may arrive as a YAML boolean). Spanner and lab mode have no certificates: then tls names none.
*/}}
{{- define "dbhook.engineValues" -}}
{{- $name := include "dbhook.engine" . }}
{{- $tls := dict "caSecret" dict "caConfigMap" dict "clientCertSecret" dict }}
{{- if eq $name "postgres" }}
{{- $tls = merge (dict "path" "postgres.tls" "modePath" "postgres.sslMode" "mode" (toString .Values.postgres.sslMode)) .Values.postgres.tls }}
{{- else if eq $name "mysql" }}
{{- $tls = merge (dict "path" "mysql.certificates" "modePath" "mysql.tls" "mode" (toString .Values.mysql.tls)) .Values.mysql.certificates }}
{{- end }}
{{- toYaml (dict "name" $name "values" (get .Values $name | default dict) "tls" $tls) }}
{{- end }}

{{/*
DBHOOK_DATABASES as a JSON object (key -> name), keys with an empty name left out. JSON keeps names with commas
or equals signs intact.
*/}}
{{- define "dbhook.databases" -}}
{{- $db := (include "dbhook.engineValues" . | fromYaml).values }}
{{- $out := dict }}
{{- range $key, $name := $db.databases }}
{{- if $name }}{{- $_ := set $out $key (toString $name) }}{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{- define "dbhook.adminUser" -}}
{{- $db := (include "dbhook.engineValues" . | fromYaml).values }}
{{- $db.provisioning.username | default $db.username }}
{{- end }}
