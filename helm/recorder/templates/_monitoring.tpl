{{/*
The alert rules: the one source of the PrometheusRule (prometheusrule.yaml), of the
plain rules file in a ConfigMap (monitoring-rules-configmap.yaml) and of
monitoring/recorder.rules.yml (scripts/render-rules.py renders it with this
template). docs/runbook.md has one section per alert; the promtool unit tests in
monitoring/recorder.rules.test.yml cover every alert, annotations included. After a
change: scripts/render-rules.py, then scripts/install-prometheus.sh and
.tools/promtool test rules monitoring/recorder.rules.test.yml (the unit tests skip
without promtool; make test requires it).
*/}}

{{/* Whether an "auto" | true | false switch is on. Call with (dict "root" $ "value" .Values.x). */}}
{{- define "recorder.monitoring.on" -}}
{{- $v := toString .value -}}
{{- if or (eq $v "true") (and (eq $v "auto") (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/* PromQL label matchers that select this release's recorder series. */}}
{{- define "recorder.monitoring.selector" -}}
{{- if .Values.monitoring.selector -}}
{{- .Values.monitoring.selector -}}
{{- else -}}
{{- $stages := include "recorder.stages" . | fromJsonArray -}}
{{- printf "namespace=%q,job=~%q" .Release.Namespace (printf "%s-(%s)-metrics" (include "recorder.fullname" .) (join "|" $stages)) -}}
{{- end -}}
{{- end -}}

{{/* One alert's labels. Call with (dict "root" $ "severity" "warning"). */}}
{{- define "recorder.monitoring.labels" -}}
labels:
  severity: {{ .severity }}
  {{- with .root.Values.monitoring.rules.alertLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* An alert's runbook_url: the runbook's section of the alert. Call with (dict "root" $ "alert" "Name"). */}}
{{- define "recorder.monitoring.runbook" -}}
runbook_url: {{ printf "%s#%s" .root.Values.monitoring.runbookUrl (lower .alert) | quote }}
{{- end -}}

{{/* The rule groups (the value of `groups:`). */}}
{{- define "recorder.monitoring.groups" -}}
{{- $s := include "recorder.monitoring.selector" . -}}
{{- $a := .Values.monitoring.alerts -}}
{{- $interval := .Values.monitoring.rules.interval -}}
{{- $cut := printf "%ds" (int .Values.config.cutInterval) -}}
- name: recorder.delivery
  {{- with $interval }}
  interval: {{ . }}
  {{- end }}
  rules:
    - alert: RecorderTrailDeliveryParked
      expr: |-
        max by (namespace, trail_arn, kind, error) (
          recorder_writer_parked_trail_age_seconds{ {{- $s -}} }
        ) > {{ $a.trailParkedAfter }}
      for: {{ $a.trailParkedFor }}
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"Trail {{ $labels.trail_arn }}: {{ if eq $labels.kind \"notice\" }}SNS notices{{ else }}log files{{ end }} not delivered for {{ $value | humanizeDuration }} ({{ $labels.error }})"`}}
        description: {{`"recorder cannot deliver the {{ if eq $labels.kind \"notice\" }}SNS notices{{ else }}log files{{ end }} of trail {{ $labels.trail_arn }}: the last attempt failed with {{ $labels.error }}. Its events are kept on routed-retry and retried with backoff, and delivered in order once the destination works; other trails are not held up. aws cloudtrail get-trail-status --name {{ $labels.trail_arn }} shows the same error as LatestDeliveryError (LatestNotificationError for notices). After the parking period the events go to the dead-letter topic."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderTrailDeliveryParked") | nindent 8 }}
    - alert: RecorderParkedNearingParkingPeriod
      expr: |-
        max by (namespace, trail_arn, kind, error) (
          recorder_writer_parked_trail_age_seconds{ {{- $s -}} }
        )
        / on (namespace) group_left ()
        max by (namespace) (recorder_writer_parking_period_seconds{ {{- $s -}} })
        > {{ $a.parkingPeriodRatio }}
      for: 5m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "critical") | nindent 6 }}
      annotations:
        summary: {{`"Trail {{ $labels.trail_arn }}: parked {{ $labels.kind }}s are {{ $value | humanizePercentage }} through the parking period; then they are dead-lettered"`}}
        description: {{`"The oldest parked {{ $labels.kind }} of trail {{ $labels.trail_arn }} (failing with {{ $labels.error }}) has used {{ $value | humanizePercentage }} of the parking period (RECORDER_PARKING_PERIOD). When it runs out, its events leave the retry path for the dead-letter topic and the trail's log files miss them until they are replayed. Repair the destination now."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderParkedNearingParkingPeriod") | nindent 8 }}
    - alert: RecorderDeadLettersParkingExpired
      expr: |-
        sum by (namespace, stage) (
          increase(recorder_dlq_records_total{reason="parking-expired",{{ $s }}}[{{ $a.deadLetterWindow }}])
        ) > 0
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "critical") | nindent 6 }}
      annotations:
        summary: {{`"{{ $value | humanize }} parked batches or notices dead-lettered after the parking period"`}}
        description: {{`"Batches (or SNS notices) that could not be delivered during the whole parking period went to the dead-letter topic (reason parking-expired). The trails' log files lack these events until the dead letters are replayed. The writer's log event dead_lettered names the trail ARN in its reason."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderDeadLettersParkingExpired") | nindent 8 }}
    - alert: RecorderDeadLettersBadInput
      expr: |-
        sum by (namespace, stage, reason) (
          increase(recorder_dlq_records_total{reason!="parking-expired",{{ $s }}}[{{ $a.deadLetterWindow }}])
        ) > 0
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"The {{ $labels.stage }} dead-lettered {{ $value | humanize }} records as {{ $labels.reason }}"`}}
        description: {{`"The {{ $labels.stage }} could not process records ({{ $labels.reason }}) and sent them to the dead-letter topic with the reason; the partition moved on. A producer sends malformed or unsigned events, or a record was damaged."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderDeadLettersBadInput") | nindent 8 }}
    - alert: RecorderApiCallsNotRecorded
      expr: |-
        sum by (namespace, outcome) (
          increase(recorder_api_audit_events_total{outcome=~"encode_failed|send_failed",{{ $s }}}[{{ $a.deadLetterWindow }}])
        ) > 0
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "critical") | nindent 6 }}
      annotations:
        summary: {{`"{{ $value | humanize }} control-API calls were not recorded in the tenants' trails ({{ $labels.outcome }})"`}}
        description: {{`"The control API answered calls whose own records (the management events CloudTrail writes for CreateTrail, GetTrailStatus, ...) could not be {{ if eq $labels.outcome \"encode_failed\" }}built{{ else }}sent to api-events{{ end }}: those calls are missing from the callers' trails. The log event api_audit_{{ if eq $labels.outcome \"encode_failed\" }}encode{{ else }}send{{ end }}_failed names each call."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderApiCallsNotRecorded") | nindent 8 }}
    - alert: RecorderProducerRecordsRejected
      expr: |-
        sum by (namespace, stage, key_id, reason) (
          increase(recorder_rejected_records_total{ {{- $s -}} }[{{ $a.deadLetterWindow }}])
        ) > 0
        or
        sum by (namespace, stage, key_id, reason) (
          recorder_rejected_records_total{ {{- $s -}} }
          unless recorder_rejected_records_total{ {{- $s -}} } offset {{ $a.deadLetterWindow }}
        ) > 0
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"The {{ $labels.stage }} refused {{ $value | humanize }} records of producer key {{ $labels.key_id }} ({{ $labels.reason }})"`}}
        description: {{`"Records on api-events failed the producer check ({{ $labels.reason }}) for key {{ $labels.key_id }} (- when no known key signed them) and went to the dead-letter topic: their events are in no trail. A producer runs with a revoked, unknown or wrong key, writes for accounts its key may not write for, or someone writes to api-events without a key."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderProducerRecordsRejected") | nindent 8 }}
    - alert: RecorderGrantChecksFailing
      expr: |-
        sum by (namespace, resource, outcome) (
          increase(recorder_writer_grant_checks_total{outcome=~"denied|refused|error",{{ $s }}}[15m])
        ) > 0
      for: 15m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $labels.resource }} policy checks keep answering {{ $labels.outcome }}"`}}
        description: {{`"For 15 minutes the writer's checks of {{ $labels.resource }} policies answered {{ $labels.outcome }} ({{ $value | humanize }} in the last 15 minutes). denied: a tenant's policy does not grant the delivery principal what CloudTrail needs (those trails are parked; see RecorderTrailDeliveryParked). refused: a tenant does not let the delivery principal read its policy (parked the same way). error: recorder cannot read policies at all (its own permissions or the service)."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderGrantChecksFailing") | nindent 8 }}
    - alert: RecorderOrganizationsRefreshFailing
      expr: |-
        sum by (namespace, instance) (
          increase(recorder_organizations_refresh_total{outcome="failed",{{ $s }}}[30m])
        ) > 0
        unless on (namespace, instance)
        sum by (namespace, instance) (
          increase(recorder_organizations_refresh_total{outcome=~"ok|not_in_use",{{ $s }}}[30m])
        ) > 0
      for: 30m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $labels.instance }} cannot read the AWS Organizations membership"`}}
        description: {{`"No read of the organization by {{ $labels.instance }} has succeeded for 30 minutes or more ({{ $value | humanize }} failed in the last 30 minutes). Organization trails keep the last membership read: an account that joined since is not logged by them, one that left still is."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderOrganizationsRefreshFailing") | nindent 8 }}
    - alert: RecorderOffsetRegression
      expr: |-
        sum by (namespace, stage) (increase(recorder_offset_regressions_total{ {{- $s -}} }[15m])) > 0
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "critical") | nindent 6 }}
      annotations:
        summary: {{`"Kafka lost acknowledged records under the {{ $labels.stage }}"`}}
        description: {{`"A partition's log end fell below the {{ $labels.stage }}'s position: the broker lost records it had acknowledged (an unclean leader election, a restored volume). Events in the lost range may be missing from log files."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderOffsetRegression") | nindent 8 }}
- name: recorder.integrity
  {{- with $interval }}
  interval: {{ . }}
  {{- end }}
  rules:
    - alert: RecorderDigestChainParked
      expr: |-
        max by (namespace) (recorder_digester_parked_chains{ {{- $s -}} }) > 0
      for: {{ $a.digestParkedFor }}
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $value | humanize }} digest chains are parked"`}}
        description: {{`"Digests of {{ $value | humanize }} chains failed repeatedly (or with a permanent error) and are retried slowly; other chains go on. validate-logs reports the missing hours until they are written. The digester's log event digest_chain_parked names each trail and error; get-trail-status shows LatestDigestDeliveryError."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderDigestChainParked") | nindent 8 }}
    - alert: RecorderLogFilesAfterFinalDigest
      expr: |-
        sum by (namespace) (increase(recorder_digester_late_log_files_total{ {{- $s -}} }[1h])) > 0
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $value | humanize }} log files arrived after their chain's final digest and are in no digest"`}}
        description: {{`"Log files were delivered for trails whose digest chain had already ended (StopLogging, DeleteTrail or validation turned off) more than RECORDER_DIGEST_FINAL_WAIT after the stop: no digest lists them, so aws cloudtrail validate-logs cannot vouch for them. The log event log_file_after_final_digest names each trail and file."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderLogFilesAfterFinalDigest") | nindent 8 }}
    - alert: RecorderDigestLate
      expr: |-
        max by (namespace) (recorder_digester_undelivered_digest_age_seconds{ {{- $s -}} }) > {{ $a.digestLateAfter }}
      for: 5m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"A digest is {{ $value | humanizeDuration }} past the end of its window and still not written"`}}
        description: {{`"The oldest digest waiting to be written covers a window that ended {{ $value | humanizeDuration }} ago. Until it is written, aws cloudtrail validate-logs cannot vouch for that hour's log files."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderDigestLate") | nindent 8 }}
- name: recorder.stages
  {{- with $interval }}
  interval: {{ . }}
  {{- end }}
  rules:
    - alert: RecorderMetricsAbsent
      expr: |-
        absent(up{ {{- $s -}} })
      for: 15m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: "Prometheus scrapes no recorder target: none of recorder's alerts can fire"
        description: {{ printf "No scrape target matches up{%s}: recorder is not scraped (metrics.serviceMonitor.enabled is off, or the Prometheus does not select the ServiceMonitor), or the rules select another job than the scrape configuration names (monitoring.selector). Every other recorder alert stays silent until this is fixed." $s | quote }}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderMetricsAbsent") | nindent 8 }}
    - alert: RecorderTargetDown
      expr: |-
        up{ {{- $s -}} } == 0
      for: {{ $a.notReadyFor }}
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"Prometheus cannot scrape {{ $labels.instance }} ({{ $labels.job }})"`}}
        description: {{`"The metrics endpoint of {{ $labels.instance }} has not answered for a while: the process is down, crash-looping or unreachable, and none of its other alerts can fire."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderTargetDown") | nindent 8 }}
    - alert: RecorderStageNotReady
      expr: |-
        min by (namespace, instance, service) (recorder_service_ready{ {{- $s -}} }) == 0
      for: {{ $a.notReadyFor }}
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $labels.service }} on {{ $labels.instance }} is not ready"`}}
        description: {{`"The {{ $labels.service }} service of {{ $labels.instance }} is still starting or failing (its /readyz answers 503 and names the error). A not-ready writer or router delivers nothing from its partitions."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderStageNotReady") | nindent 8 }}
    - alert: RecorderStageRestarting
      expr: |-
        sum by (namespace, instance, service) (
          increase(recorder_service_restarts_total{ {{- $s -}} }[15m])
        ) >= {{ $a.restarts }}
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $labels.service }} on {{ $labels.instance }} restarted {{ $value | humanize }} times in 15 minutes"`}}
        description: {{`"The {{ $labels.service }} service keeps failing and being restarted by its supervisor; the log event service_failed has each error."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderStageRestarting") | nindent 8 }}
- name: recorder.capacity
  {{- with $interval }}
  interval: {{ . }}
  {{- end }}
  rules:
    - alert: RecorderConsumerLagGrowing
      expr: |-
        (
          sum by (namespace, stage) (recorder_consumer_lag_records{ {{- $s -}} }) > {{ $a.lagRecords }}
        )
        and
        (
          sum by (namespace, stage) (delta(recorder_consumer_lag_records{ {{- $s -}} }[{{ $cut }}])) > 0
        )
      for: {{ $cut }}
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"The {{ $labels.stage }} is {{ $value | humanize }} records behind and falling further behind"`}}
        description: {{`"The {{ $labels.stage }}'s consumer lag has grown for longer than a cut interval: events reach log files later and later. It needs more replicas (up to the partition count) or is held back (see the other alerts)."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderConsumerLagGrowing") | nindent 8 }}
    - alert: RecorderWriterBufferNearBudget
      expr: |-
        max by (namespace, instance) (
          recorder_writer_buffered_bytes{ {{- $s -}} } / recorder_writer_buffer_budget_bytes{ {{- $s -}} }
        ) > {{ $a.bufferRatio }}
      for: 10m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"Writer {{ $labels.instance }} holds {{ $value | humanizePercentage }} of its buffer budget"`}}
        description: {{`"The writer on {{ $labels.instance }} has held more than its share of RECORDER_WRITER_BUFFER_BYTES for 10 minutes; at the budget it pauses its partitions (recorder_writer_paused_partitions) and lag grows."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderWriterBufferNearBudget") | nindent 8 }}
- name: recorder.api
  {{- with $interval }}
  interval: {{ . }}
  {{- end }}
  rules:
    - alert: RecorderApiServerErrors
      expr: |-
        sum by (namespace) (rate(recorder_api_requests_total{status=~"5..",{{ $s }}}[5m]))
        /
        sum by (namespace) (rate(recorder_api_requests_total{ {{- $s -}} }[5m]))
        > {{ $a.apiErrorRatio }}
      for: 5m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $value | humanizePercentage }} of control-API requests fail with 5xx"`}}
        description: {{`"The control API answers InternalFailure or ServiceUnavailableException to {{ $value | humanizePercentage }} of requests: the aws CLI, SDKs and Terraform see failed trail operations. The log event api_internal_failure has the stack trace."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderApiServerErrors") | nindent 8 }}
    - alert: RecorderApiThrottling
      expr: |-
        sum by (namespace) (rate(recorder_api_requests_total{code="ThrottlingException",{{ $s }}}[5m]))
        /
        sum by (namespace) (rate(recorder_api_requests_total{ {{- $s -}} }[5m]))
        > {{ $a.apiThrottleRatio }}
      for: 10m
      {{- include "recorder.monitoring.labels" (dict "root" $ "severity" "warning") | nindent 6 }}
      annotations:
        summary: {{`"{{ $value | humanizePercentage }} of control-API requests are throttled"`}}
        description: {{`"{{ $value | humanizePercentage }} of control-API requests were answered ThrottlingException for 10 minutes: a client polls too fast, or the per-account rates (RECORDER_API_READ_RATE, RECORDER_API_WRITE_RATE; AWS allows 10 and 1 per second) are too low for the tenants."`}}
        {{- include "recorder.monitoring.runbook" (dict "root" $ "alert" "RecorderApiThrottling") | nindent 8 }}
{{- end -}}
