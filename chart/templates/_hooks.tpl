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
