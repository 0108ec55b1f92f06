{{/* The chart's name. */}}
{{- define "evmgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's resource name prefix. */}}
{{- define "evmgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "evmgate.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "evmgate.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels every resource carries; the component label is added per workload. */}}
{{- define "evmgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "evmgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; call with (list $ "component"). */}}
{{- define "evmgate.selectorLabels" -}}
{{- $top := index . 0 -}}
app.kubernetes.io/name: {{ include "evmgate.name" $top }}
app.kubernetes.io/instance: {{ $top.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "evmgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The Secret whose keys become the gateway's environment ("" when none). */}}
{{- define "evmgate.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.values }}
{{- include "evmgate.fullname" . }}
{{- end }}
{{- end }}

{{/* redis_url of the configuration ("" when Redis is off). */}}
{{- define "evmgate.redisURL" -}}
{{- if and .Values.redis.enabled .Values.redis.url }}
{{- fail "redis: set either redis.enabled (a Redis run by this chart) or redis.url (your own), not both" }}
{{- end }}
{{- if .Values.redis.url }}
{{- .Values.redis.url }}
{{- else if .Values.redis.enabled }}
{{- $auth := "" }}
{{- if .Values.redis.passwordKey }}{{ $auth = printf ":${%s}@" .Values.redis.passwordKey }}{{ end }}
{{- printf "redis://%s%s-redis:6379/0" $auth (include "evmgate.fullname" .) }}
{{- end }}
{{- end }}

{{/* The gateway's evmgate.yaml. */}}
{{- define "evmgate.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := set $cfg "port" .Values.ports.rpc }}
{{- $_ = set $cfg "listen_addr" "0.0.0.0" }}
{{- $_ = set $cfg "metrics_port" .Values.ports.metrics }}
{{- if .Values.admin.enabled }}
{{- $admin := deepCopy (default (dict) (get $cfg "admin")) }}
{{- $_ = set $admin "listen" (printf "127.0.0.1:%v" .Values.admin.port) }}
{{- if .Values.admin.tokenKey }}{{ $_ = set $admin "token" (printf "${%s}" .Values.admin.tokenKey) }}{{ end }}
{{- with include "evmgate.adminTLS" . }}{{ $_ = set $admin "tls" (fromYaml .) }}{{ end }}
{{- $_ = set $cfg "admin" $admin }}
{{- end }}
{{- if .Values.tls.enabled }}
{{- if not .Values.tls.secretName }}{{ fail "tls.enabled: set tls.secretName to a Secret of type kubernetes.io/tls (tls.crt, tls.key)" }}{{ end }}
{{- $_ = set $cfg "tls" (dict "cert_file" "/etc/evmgate-tls/rpc/tls.crt" "key_file" "/etc/evmgate-tls/rpc/tls.key") }}
{{- end }}
{{- with .Values.limits }}{{ $_ = set $cfg "limits" . }}{{ end }}
{{- $redis := include "evmgate.redisURL" . }}
{{- with $redis }}{{ $_ = set $cfg "redis_url" . }}{{ end }}
{{- if .Values.access.enabled }}{{ $_ = set $cfg "access" (include "evmgate.access" (list . $redis) | fromYaml) }}
{{- else if or .Values.access.keys .Values.access.sharedLimits .Values.access.config .Values.access.jwt.configMap .Values.access.jwt.secret }}
{{- fail "access: keys, sharedLimits, jwt or config are set but access.enabled is false: set access.enabled: true to apply them" }}
{{- end }}
{{- if or .Values.cache.config .Values.cache.redis }}
{{- $cache := deepCopy .Values.cache.config }}
{{- if .Values.cache.redis }}
{{- if not $redis }}{{ fail "cache.redis: needs a Redis: set redis.enabled (one run by this chart) or redis.url (your own)" }}{{ end }}
{{- $_ = set $cache "redis_url" $redis }}
{{- if and .Values.redis.enabled (not (hasKey $cache "redis_max_bytes")) }}{{ $_ = set $cache "redis_max_bytes" 134217728 }}{{ end }}
{{- end }}
{{- $_ = set $cfg "cache" $cache }}
{{- end }}
{{- $_ = set $cfg "networks" .Values.networks }}
{{- toYaml $cfg }}
{{- end }}

{{/* admin.tls of the configuration, as YAML ("" when off). */}}
{{- define "evmgate.adminTLS" -}}
{{- if .Values.admin.tls.enabled }}
{{- if not .Values.admin.tls.secretName }}{{ fail "admin.tls.enabled: set admin.tls.secretName to a Secret of type kubernetes.io/tls (tls.crt, tls.key)" }}{{ end }}
cert_file: /etc/evmgate-tls/admin/tls.crt
key_file: /etc/evmgate-tls/admin/tls.key
{{- with .Values.admin.tls.clientCA.secretName }}
client_ca_file: /etc/evmgate-tls/admin-ca/{{ $.Values.admin.tls.clientCA.key }}
{{- end }}
{{- else if .Values.admin.tls.clientCA.secretName }}
{{- fail "admin.tls.clientCA: client certificates are checked over TLS only: set admin.tls.enabled and admin.tls.secretName" }}
{{- end }}
{{- end }}

{{/* The access: section; call with (list $ redisURL). */}}
{{- define "evmgate.access" -}}
{{- $top := index . 0 }}
{{- $v := $top.Values.access }}
{{- $access := deepCopy $v.config }}
{{- with $v.keys }}{{ $_ := set $access "keys" . }}{{ end }}
{{- if $v.sharedLimits }}
{{- if not (index . 1) }}{{ fail "access.sharedLimits: needs a Redis: set redis.enabled (one run by this chart) or redis.url (your own)" }}{{ end }}
{{- $_ := set $access "shared_limits" true }}
{{- end }}
{{- $_ := set $access "redis_fail_mode" $v.redisFailMode }}
{{- $jwt := dict }}
{{- if and $v.jwt.configMap $v.jwt.secret }}{{ fail "access.jwt: set either access.jwt.configMap or access.jwt.secret, not both" }}{{ end }}
{{- $source := or $v.jwt.configMap $v.jwt.secret }}
{{- if and (or $v.jwt.jwksKey $v.jwt.publicKeyKeys) (not $source) }}{{ fail "access.jwt: name the ConfigMap (access.jwt.configMap) or Secret (access.jwt.secret) holding the keys" }}{{ end }}
{{- if and $source (not (or $v.jwt.jwksKey $v.jwt.publicKeyKeys)) }}{{ fail "access.jwt: set access.jwt.jwksKey or access.jwt.publicKeyKeys, the keys of the ConfigMap or Secret that hold the JWT keys" }}{{ end }}
{{- with $v.jwt.jwksKey }}{{ $_ = set $jwt "jwks_file" (printf "/etc/evmgate-jwt/%s" .) }}{{ end }}
{{- if $v.jwt.publicKeyKeys }}
{{- $files := list }}
{{- range $v.jwt.publicKeyKeys }}{{ $files = append $files (printf "/etc/evmgate-jwt/%s" .) }}{{ end }}
{{- $_ = set $jwt "public_key_files" $files }}
{{- end }}
{{- with $v.jwt.issuer }}{{ $_ = set $jwt "issuer" . }}{{ end }}
{{- with $v.jwt.audience }}{{ $_ = set $jwt "audience" . }}{{ end }}
{{- if $jwt }}{{ $_ = set $access "jwt" (merge $jwt (default (dict) (get $access "jwt"))) }}{{ end }}
{{- toYaml $access }}
{{- end }}

{{/* The multiplexer's evmgate.yaml. */}}
{{- define "evmgate.engineConfig" -}}
{{- $engine := deepCopy .Values.engine.config }}
{{- $_ := set $engine "enabled" true }}
{{- $_ = set $engine "listen_addr" .Values.engine.listenAddr }}
{{- $_ = set $engine "jwt_secret" (printf "/secrets/jwt/%s" .Values.engine.jwtSecret.key) }}
{{- $_ = set $engine "nodes" .Values.engine.nodes }}
{{- $cfg := dict "engine" $engine }}
{{- with .Values.config.log_format }}{{ $_ = set $cfg "log_format" . }}{{ end }}
{{- with .Values.config.log_level }}{{ $_ = set $cfg "log_level" . }}{{ end }}
{{- toYaml $cfg }}
{{- end }}

{{/* Fails when the configuration names a ${NAME} that the Secret created here lacks. */}}
{{- define "evmgate.checkSecretKeys" -}}
{{- $top := index . 0 }}
{{- if not $top.Values.secrets.existingSecret }}
{{- range regexFindAll "\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}" (index . 1) -1 }}
{{- $name := trimSuffix "}" (trimPrefix "${" .) }}
{{- if not (hasKey $top.Values.secrets.values $name) }}
{{- fail (printf "the configuration uses ${%s}: set secrets.values.%s, or secrets.existingSecret to a Secret with that key" $name $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The securityContext of every container. */}}
{{- define "evmgate.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}
