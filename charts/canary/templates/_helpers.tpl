{{/* The name every object of the release carries: <release>-controller (canary-controller for release `canary`). */}}
{{- define "canary.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (default "controller" .Values.nameOverride) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object: Helm's own, which the kustomize install does not have. */}}
{{- define "canary.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: canary
{{- end -}}

{{/* What the Deployment, its pods, the PodDisruptionBudget and the metrics Service select on. */}}
{{- define "canary.selectorLabels" -}}
app.kubernetes.io/name: canary-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "canary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "canary.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* "true" when the controllers elect a leader. */}}
{{- define "canary.leaderElect" -}}
{{- $mode := .Values.leaderElection.mode -}}
{{- if or (eq $mode "always") (and (eq $mode "auto") (gt (int .Values.replicas) 1)) -}}
true
{{- else if and (eq $mode "never") (gt (int .Values.replicas) 1) -}}
{{- fail "leaderElection.mode=never needs replicas: 1 (two controllers without a leader would both write)" -}}
{{- end -}}
{{- end -}}

{{/* The subject every binding names. */}}
{{- define "canary.subject" -}}
- kind: ServiceAccount
  name: {{ include "canary.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
