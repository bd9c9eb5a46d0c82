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

{{- define "kerf.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
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
  apiVersions: [v1]
  operations: [CREATE, UPDATE]
  resources: [nodepools]
  scope: Cluster
- apiGroups: [karpenter.k8s.aws]
  apiVersions: [v1]
  operations: [CREATE, UPDATE]
  resources: [ec2nodeclasses]
  scope: Cluster
{{- end }}
