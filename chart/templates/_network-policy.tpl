{{/*
Egress every pod of the chart needs, as a YAML list of NetworkPolicyEgressRule: DNS, the database (an ipBlock of
the one address when the host is an IP, else the selectors or CIDRs networkPolicy.database gives), and
networkPolicy.extraEgress.
*/}}
{{- define "dbhook.networkEgress" -}}
{{- $engine := include "dbhook.engineValues" . | fromYaml }}
{{- $db := $engine.values }}
{{- $policy := .Values.networkPolicy }}
{{- $dnsPeer := dict }}
{{- with $policy.dns.namespaceSelector }}{{- $_ := set $dnsPeer "namespaceSelector" . }}{{- end }}
{{- with $policy.dns.podSelector }}{{- $_ := set $dnsPeer "podSelector" . }}{{- end }}
{{- $rules := list (dict "to" (list $dnsPeer) "ports" (list (dict "protocol" "UDP" "port" 53) (dict "protocol" "TCP" "port" 53))) }}
{{- $host := toString $db.host }}
{{- $to := list }}
{{- if regexMatch "^[0-9]{1,3}([.][0-9]{1,3}){3}$" $host }}
{{- $to = append $to (dict "ipBlock" (dict "cidr" (printf "%s/32" $host))) }}
{{- else if contains ":" $host }}
{{- $to = append $to (dict "ipBlock" (dict "cidr" (printf "%s/128" (trimAll "[]" $host)))) }}
{{- else }}
{{- $selected := dict }}
{{- with $policy.database.namespaceSelector }}{{- $_ := set $selected "namespaceSelector" . }}{{- end }}
{{- with $policy.database.podSelector }}{{- $_ := set $selected "podSelector" . }}{{- end }}
{{- if $selected }}{{- $to = append $to $selected }}{{- end }}
{{- range $policy.database.cidrs }}{{- $to = append $to (dict "ipBlock" (dict "cidr" .)) }}{{- end }}
{{- if not $to }}
{{- fail (printf "networkPolicy.database needs a namespaceSelector or podSelector of the database's pods, or its cidrs: %s.host (%s) is a name, which a NetworkPolicy cannot match." $engine.name $host) }}
{{- end }}
{{- end }}
{{- $rules = append $rules (dict "to" $to "ports" (list (dict "protocol" "TCP" "port" (int $db.port)))) }}
{{- range $policy.extraEgress }}{{- $rules = append $rules . }}{{- end }}
{{- toYaml $rules }}
{{- end }}
