{{- define "mqt.name" -}}{{ .Release.Name }}-mqt-stream{{- end }}

{{- define "mqt.labels" -}}
app.kubernetes.io/name: mqt-stream
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "mqt.engineConfig" -}}
{{- $base := dict
  "kafka" (dict
    "bootstrapServers" .Values.kafka.bootstrapServers
    "framesTopic" .Values.kafka.topics.frames.name
    "answersTopic" .Values.kafka.topics.answers.name
    "deadLetterTopic" .Values.kafka.topics.deadLetters.name
    "queriesTopic" .Values.kafka.topics.queries.name
    "groupId" .Values.kafka.groupId
    "createTopics" (not .Values.kafka.strimzi.enabled))
  "server" (dict "port" (int .Values.engine.metricsPort)) -}}
{{- toYaml (mustMergeOverwrite (deepCopy .Values.engine.config) $base) }}
{{- end }}
