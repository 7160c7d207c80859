{{/*
Labels of every object: the same as the kustomize base's, plus the two that
say Helm manages the object (the parity test leaves those two out).
Call with (dict "ctx" $ "component" "collector"); component may be empty.
*/}}
{{- define "opshub.labels" -}}
{{ include "opshub.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/*
Labels that select a component's pods; they never change between releases,
since a workload's selector is immutable.
*/}}
{{- define "opshub.selectorLabels" -}}
app.kubernetes.io/name: opshub
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "opshub.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
