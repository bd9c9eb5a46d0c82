{{/* Object name prefix: "kerf" unless overridden. */}}
{{- define "kerf.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The namespace of every namespaced object (see values.yaml). */}}
{{- define "kerf.namespace" -}}
{{- if .Values.namespace -}}
{{- .Values.namespace -}}
{{- else if eq .Release.Namespace "default" -}}
karpenter
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "kerf.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels; "component" is controller or webhook. */}}
{{- define "kerf.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kerf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "kerf.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "kerf.webhookName" -}}
{{- printf "%s-webhook" (include "kerf.fullname" .) -}}
{{- end -}}

{{/*
The image: repository@digest when image.digest is set (the tag is then
ignored: the digest alone says what runs), else repository:tag.
*/}}
{{- define "kerf.image" -}}
{{- with .Values.image.digest -}}
{{- if not (regexMatch "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$" .) -}}
{{- fail (printf "image.digest must be a digest such as sha256:<64 hex digits>, not %q" .) -}}
{{- end -}}
{{- printf "%s@%s" $.Values.image.repository . -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Node affinity keeping pods off the nodes kerf launches. */}}
{{- define "kerf.avoidManagedNodes" -}}
nodeAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    nodeSelectorTerms:
      - matchExpressions:
          - key: karpenter.sh/nodepool
            operator: DoesNotExist
          - key: karpenter.sh/provisioner-name
            operator: DoesNotExist
{{- end -}}

{{/* Webhook rules: CREATE and UPDATE of the four kinds (kerf_webhook::configurations::rules). */}}
{{- define "kerf.webhookRules" -}}
- apiGroups: [karpenter.sh]
  apiVersions: [v1alpha5]
  operations: [CREATE, UPDATE]
  resources: [provisioners]
  scope: Cluster
- apiGroups: [karpenter.k8s.aws]
  apiVersions: [v1alpha1]
  operations: [CREATE, UPDATE]
  resources: [awsnodetemplates]
  scope: Cluster
- apiGroups: [karpenter.sh]
  apiVersions: [v1, v1beta1]
  operations: [CREATE, UPDATE]
  resources: [nodepools]
  scope: Cluster
- apiGroups: [karpenter.k8s.aws]
  apiVersions: [v1, v1beta1]
  operations: [CREATE, UPDATE]
  resources: [ec2nodeclasses]
  scope: Cluster
{{- end }}

{{/*
settings.cloudProvider, checked: aws or kwok (the chart's RBAC is written
for these two); anything else fails the render naming the value.
*/}}
{{- define "kerf.cloudProvider" -}}
{{- $provider := toString .Values.settings.cloudProvider -}}
{{- if not (has $provider (list "aws" "kwok")) -}}
{{- fail (printf "settings.cloudProvider must be aws or kwok, not %q" $provider) -}}
{{- end -}}
{{- $provider -}}
{{- end -}}

{{/* settings.bindPods, checked: a boolean (a string "false" would read as true). */}}
{{- define "kerf.podDeletionCost" -}}
{{- $on := .Values.settings.featureGates.podDeletionCostManagement -}}
{{- if not (kindIs "bool" $on) -}}
{{- fail (printf "settings.featureGates.podDeletionCostManagement must be true or false, not %q" (toString $on)) -}}
{{- end -}}
{{- if $on }}true{{ end -}}
{{- end -}}

{{- define "kerf.bindPods" -}}
{{- if not (kindIs "bool" .Values.settings.bindPods) -}}
{{- fail (printf "settings.bindPods must be true or false, not %q" (toString .Values.settings.bindPods)) -}}
{{- end -}}
{{- if .Values.settings.bindPods }}true{{ end -}}
{{- end -}}

{{/*
Pod Security Standards "restricted" (and so "baseline"): the pod-level
part. hostNetwork is the one documented exception (values.yaml).
*/}}
{{- define "kerf.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* ... and the container-level part. */}}
{{- define "kerf.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
