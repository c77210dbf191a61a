{{/* The chart's name, cut to the 63 characters a label value allows. */}}
{{- define "azbatch-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object this chart makes. */}}
{{- define "azbatch-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "azbatch-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "azbatch-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "azbatch-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "azbatch-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: azbatch-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "azbatch-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "azbatch-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "azbatch-operator.digestKeySecretName" -}}
{{- default (printf "%s-digest-key" (include "azbatch-operator.fullname" .)) .Values.digestKey.existingSecret }}
{{- end }}

{{- define "azbatch-operator.leaseName" -}}
{{- default (include "azbatch-operator.fullname" .) .Values.operator.leaderElection.leaseName }}
{{- end }}

{{- define "azbatch-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The operator's settings file (the contract of azbatch_operator.config). */}}
{{- define "azbatch-operator.config" -}}
resyncInterval: {{ .Values.operator.resyncInterval }}
healthInterval: {{ .Values.operator.healthInterval }}
healthNodeBudget: {{ .Values.operator.healthNodeBudget }}
{{- with .Values.operator.accountAllowlist }}
accountAllowlist:
  {{- toYaml . | nindent 2 }}
{{- end }}
leaderElection:
  enabled: {{ .Values.operator.leaderElection.enabled }}
  leaseName: {{ include "azbatch-operator.leaseName" . }}
  leaseNamespace: {{ .Release.Namespace }}
maxConcurrentRecreates: {{ .Values.operator.maxConcurrentRecreates }}
stuckDeleteTimeout: {{ .Values.operator.stuckDeleteTimeout }}
{{- with .Values.operator.armRequestBudget }}
armRequestBudget:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if not .Values.digestKey.existingSecret }}
digestKeySecret:
  name: {{ include "azbatch-operator.digestKeySecretName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}
{{- end }}

{{/* The rules a namespace's BatchPools need: the resources, their status, events, and Secrets. */}}
{{- define "azbatch-operator.poolRules" -}}
- apiGroups: ["azbatch.dev"]
  resources: ["batchpools"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["azbatch.dev"]
  resources: ["batchpools/status"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
