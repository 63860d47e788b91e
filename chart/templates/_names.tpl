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

{{- define "dbhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dbhook.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}
