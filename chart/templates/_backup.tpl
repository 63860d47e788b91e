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
