{{/*
The command that prints the SQL a DBA must run for this release: `dbhook sql` connects to nothing and reads
only these non-secret settings. Quoted for a POSIX shell.
*/}}
{{- define "dbhook.sqlCommand" -}}
{{- $engine := include "dbhook.engineValues" . | fromYaml }}
{{- $db := $engine.values }}
{{- $env := list (printf "DBHOOK_ENGINE=%s" $engine.name) (printf "DBHOOK_OWNER=%s" $db.username) (printf "DBHOOK_DATABASES=%s" (include "dbhook.databases" .)) }}
{{- $image := include "dbhook.image" . }}
{{- if eq $engine.name "spanner" }}
{{- /* On Spanner `dbhook sql` prints the gcloud commands that create the databases. */}}
{{- $env = list "DBHOOK_ENGINE=spanner" (printf "DBHOOK_SPANNER_PROJECT=%s" $db.project) (printf "DBHOOK_SPANNER_INSTANCE=%s" $db.instance) (printf "DBHOOK_DATABASES=%s" (include "dbhook.databases" .)) }}
{{- $image = include "dbhook.spannerImage" . }}
{{- else }}
{{- if $db.appUser.username }}{{- $env = append $env (printf "DBHOOK_APP_USER=%s" $db.appUser.username) }}{{- end }}
{{- end }}
{{- if and (eq $engine.name "postgres") $db.extensions }}{{- $env = append $env (printf "DBHOOK_EXTENSIONS=%s" (join "," $db.extensions)) }}{{- end }}
{{- if eq $engine.name "mysql" }}
{{- $env = append $env (printf "DBHOOK_MYSQL_CHARSET=%s" $db.charset) }}
{{- if $db.collation }}{{- $env = append $env (printf "DBHOOK_MYSQL_COLLATION=%s" $db.collation) }}{{- end }}
{{- $env = append $env (printf "DBHOOK_MYSQL_USER_HOST=%s" $db.userHost) }}
{{- end }}
{{- $args := list }}
{{- range $env }}{{- $args = append $args (printf "--env='%s'" (replace "'" "'\\''" .)) }}{{- end }}
{{- printf "kubectl run %s-sql --namespace %s --rm -i --restart=Never --image=%s %s -- sql" (include "dbhook.fullname" .) .Release.Namespace $image (join " " $args) }}
{{- end }}
