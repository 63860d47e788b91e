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
