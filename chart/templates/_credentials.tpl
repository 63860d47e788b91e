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
{{- $engine := include "dbhook.engineValues" . | fromYaml }}
{{- if eq $engine.name "spanner" }}
{{- /* Spanner has no passwords: the pod calls it as its Google identity. */}}
{{- toYaml dict }}
{{- else }}
{{- $db := $engine.values }}
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
The Secrets the hook generates passwords into, as YAML: role (owner, app) -> Secret name, for each role whose
password is neither inline nor in an existingSecret while <engine>.generatedSecret.enabled. Empty when nothing is
generated: then no RBAC, no token and no API egress are rendered.
*/}}
{{- define "dbhook.generatedSecrets" -}}
{{- $engine := include "dbhook.engineValues" . | fromYaml }}
{{- $db := $engine.values }}
{{- $out := dict }}
{{- if $engine.name }}
{{- if and (dig "generatedSecret" "enabled" false $db) $db.provisioning.enabled }}
{{- if not (or $db.existingSecret $db.password) }}
{{- $_ := set $out "owner" ($db.generatedSecret.name | default (printf "%s-%s-credentials" .Release.Name $engine.name)) }}
{{- end }}
{{- if and $db.appUser.username (not (or $db.appUser.existingSecret $db.appUser.password)) }}
{{- $_ := set $out "app" ($db.generatedSecret.appName | default (printf "%s-%s-app-credentials" .Release.Name $engine.name)) }}
{{- end }}
{{- end }}
{{- end }}
{{- toYaml $out }}
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
