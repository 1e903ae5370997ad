{{/*
The stages, in the order their resources are rendered. Each is one Deployment
running `recorder run <stage>`, configured by the values key of the same name.
*/}}
{{- define "recorder.stages" -}}
{{- list "api" "router" "writer" "digester" "insights" "aggregation" | toJson -}}
{{- end -}}

{{/* Chart name, overridable by nameOverride. */}}
{{- define "recorder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name, at most 63 - len("-aggregation-metrics") characters so
that every derived name stays a valid DNS label.
*/}}
{{- define "recorder.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 43 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 43 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 43 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one stage's resources: <fullname>-<stage>. Call with (dict "root" $ "stage" "writer"). */}}
{{- define "recorder.stageName" -}}
{{- printf "%s-%s" (include "recorder.fullname" .root) .stage -}}
{{- end -}}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "recorder.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels shared by every resource of the release. */}}
{{- define "recorder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "recorder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Standard labels of every resource. */}}
{{- define "recorder.labels" -}}
helm.sh/chart: {{ include "recorder.chart" . }}
{{ include "recorder.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: recorder
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one stage. Call with (dict "root" $ "stage" "writer"). */}}
{{- define "recorder.stageSelectorLabels" -}}
{{ include "recorder.selectorLabels" .root }}
app.kubernetes.io/component: {{ .stage }}
{{- end -}}

{{/* Standard labels of one stage's resources. Call with (dict "root" $ "stage" "writer"). */}}
{{- define "recorder.stageLabels" -}}
{{ include "recorder.labels" .root }}
app.kubernetes.io/component: {{ .stage }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations merged with extra ones. Call with (dict "root" $ "extra" map). */}}
{{- define "recorder.annotations" -}}
{{- $all := merge (deepCopy (.extra | default dict)) (.root.Values.commonAnnotations | default dict) -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* The container image reference. */}}
{{- define "recorder.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{/* Name of the ServiceAccount the pods run as. */}}
{{- define "recorder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "recorder.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the ConfigMap with the non-secret RECORDER_* settings. */}}
{{- define "recorder.configMapName" -}}
{{- printf "%s-config" (include "recorder.fullname" .) -}}
{{- end -}}

{{/* Name of the Secret with credentials: the existing one, or the chart's. */}}
{{- define "recorder.secretName" -}}
{{- .Values.credentials.existingSecret | default (include "recorder.fullname" .) -}}
{{- end -}}

{{/* Key names in the chart's own Secret, by entry. */}}
{{- define "recorder.chartSecretKeys" -}}
{{- dict "awsAccessKeyId" "aws-access-key-id" "awsSecretAccessKey" "aws-secret-access-key" "apiCredentials" "api-credentials.json" "producers" "producers.json" "signingKey" "signing-key.pem" "signingKeyPassword" "signing-key-password" "kafkaSaslPassword" "kafka-sasl-password" | toJson -}}
{{- end -}}

{{/*
Key of an entry in the credentials Secret, or nothing when the Secret has no such
entry. With the chart's Secret an entry exists when its value is set; with
credentials.existingSecret, when credentials.existingSecretKeys names it.
Call with (dict "root" $ "entry" "signingKey").
*/}}
{{- define "recorder.secretKey" -}}
{{- $c := .root.Values.credentials -}}
{{- if $c.existingSecret -}}
{{- index $c.existingSecretKeys .entry | default "" -}}
{{- else -}}
{{- $value := ternary .root.Values.kafka.sasl.password (index $c .entry | default "") (eq .entry "kafkaSaslPassword") -}}
{{- if $value -}}
{{- index (include "recorder.chartSecretKeys" .root | fromJson) .entry -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether the chart creates its own Secret (it has something to hold); prints "true" or nothing. */}}
{{- define "recorder.createSecret" -}}
{{- $c := .Values.credentials -}}
{{- if not $c.existingSecret -}}
{{- $sasl := and .Values.kafka.sasl.enabled (not .Values.kafka.sasl.existingSecret) .Values.kafka.sasl.password -}}
{{- if or $c.awsAccessKeyId $c.awsSecretAccessKey $c.apiCredentials $c.producers $c.signingKey $c.signingKeyPassword $sasl }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* Kafka security protocol (aiokafka's security_protocol) from the TLS and SASL switches. */}}
{{- define "recorder.kafka.securityProtocol" -}}
{{- $tls := .Values.kafka.tls.enabled -}}
{{- $sasl := .Values.kafka.sasl.enabled -}}
{{- if and $tls $sasl -}}SASL_SSL
{{- else if $tls -}}SSL
{{- else if $sasl -}}SASL_PLAINTEXT
{{- else -}}PLAINTEXT
{{- end -}}
{{- end -}}

{{/* Directory where Kafka TLS material is mounted. */}}
{{- define "recorder.kafka.tlsDir" -}}/etc/recorder/kafka-tls{{- end -}}

{{/* Directory where files from the credentials Secret are mounted. */}}
{{- define "recorder.secretsDir" -}}/etc/recorder/secrets{{- end -}}

{{/*
Values checks that stop the render with a message naming the value.
*/}}
{{- define "recorder.validate" -}}
{{- $sasl := .Values.kafka.sasl -}}
{{- if $sasl.enabled -}}
{{- if not (has $sasl.mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512" "OAUTHBEARER")) -}}
{{- fail (printf "kafka.sasl.mechanism must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER, got %q" $sasl.mechanism) -}}
{{- end -}}
{{- if eq $sasl.mechanism "OAUTHBEARER" -}}
{{- if not .Values.kafka.tls.enabled -}}
{{- fail "kafka.sasl.mechanism OAUTHBEARER (Amazon MSK IAM) needs kafka.tls.enabled: MSK takes IAM over TLS only" -}}
{{- end -}}
{{- else if not $sasl.username -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.username" -}}
{{- end -}}
{{- if and (ne $sasl.mechanism "OAUTHBEARER") (not (or $sasl.existingSecret $sasl.password .Values.credentials.existingSecret)) -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.password, kafka.sasl.existingSecret or credentials.existingSecret" -}}
{{- end -}}
{{- if and (ne $sasl.mechanism "OAUTHBEARER") .Values.credentials.existingSecret (not $sasl.existingSecret) (not .Values.credentials.existingSecretKeys.kafkaSaslPassword) -}}
{{- fail "kafka.sasl.enabled with credentials.existingSecret needs credentials.existingSecretKeys.kafkaSaslPassword" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.api.enabled (not (include "recorder.secretKey" (dict "root" . "entry" "apiCredentials"))) -}}
{{- fail "api.enabled needs API credentials: set credentials.apiCredentials (or credentials.existingSecret with credentials.existingSecretKeys.apiCredentials); the API accepts no default key" -}}
{{- end -}}
{{- $readers := list -}}
{{- range $stage := list "router" "insights" "api" -}}
{{- if (index $.Values $stage).enabled -}}{{- $readers = append $readers $stage -}}{{- end -}}
{{- end -}}
{{- if and $readers (not (include "recorder.secretKey" (dict "root" . "entry" "producers"))) -}}
{{- fail (printf "%s need the producers file: set credentials.producers (or credentials.existingSecret with credentials.existingSecretKeys.producers); routers admit records only from known producer keys, and there is no default key" (join ", " $readers)) -}}
{{- end -}}
{{- if and .Values.api.enabled (not .Values.credentials.apiProducerKeyId) -}}
{{- fail "api.enabled needs credentials.apiProducerKeyId: the key of the producers file the control API signs its records with" -}}
{{- end -}}
{{- if not (has (lower .Values.config.logLevel) (list "debug" "info" "warning" "error")) -}}
{{- fail (printf "config.logLevel must be debug, info, warning or error, got %q" .Values.config.logLevel) -}}
{{- end -}}
{{- if and (include "recorder.secretKey" (dict "root" . "entry" "signingKeyPassword")) (not (include "recorder.secretKey" (dict "root" . "entry" "signingKey"))) -}}
{{- fail "a signing key password is set but no signing key (credentials.signingKey, or credentials.existingSecretKeys.signingKey)" -}}
{{- end -}}
{{- range $stage := include "recorder.stages" . | fromJsonArray -}}
{{- $cfg := index $.Values $stage -}}
{{- if not (has ($cfg.podAntiAffinityPreset | default "") (list "" "soft" "hard")) -}}
{{- fail (printf "%s.podAntiAffinityPreset must be soft, hard or empty, got %q" $stage $cfg.podAntiAffinityPreset) -}}
{{- end -}}
{{- if and $cfg.autoscaling.enabled (gt (int $cfg.autoscaling.minReplicas) (int $cfg.autoscaling.maxReplicas)) -}}
{{- fail (printf "%s.autoscaling.minReplicas must not exceed %s.autoscaling.maxReplicas" $stage $stage) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Who recorder delivers as (RECORDER_DELIVERY_PRINCIPAL): aws.deliveryPrincipal, else the
IRSA role the ServiceAccount names, else empty (each pod asks STS who it is).
*/}}
{{- define "recorder.deliveryPrincipal" -}}
{{- if .Values.aws.deliveryPrincipal -}}
{{- .Values.aws.deliveryPrincipal -}}
{{- else -}}
{{- index .Values.serviceAccount.annotations "eks.amazonaws.com/role-arn" | default "" -}}
{{- end -}}
{{- end -}}
