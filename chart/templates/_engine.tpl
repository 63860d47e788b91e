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
