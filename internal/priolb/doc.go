// Package priolb lets evmgate replace flashbots' prio-load-balancer without
// changing how it is started or called: `evmgate prio` takes its flags and
// environment variables (flags.go), turns them into an ordinary evmgate
// configuration (config.go) and runs the normal gateway.
//
// # Place in the gateway
//
// The package only builds configuration and two start-up helpers; the
// request path is the gateway's. The configuration it builds has one
// network, "default", whose nodes are NODES, BACKENDS, the mock node and
// the node list prio-load-balancer kept in Redis (redis.go); the network
// is served at POST / and POST /sim the way prio-load-balancer serves them
// (proxy's network paths: X-PrioLB-* headers, plain-text failures), and the
// admin API, prio-load-balancer's /nodes included, is on the same listener
// (admin.on_rpc). With -redis, Redis also keeps evmgate's own runtime node
// changes, under REDIS_PREFIX + "evmgate:".
//
// # What maps to what
//
//	-http / LISTEN_ADDR                listen_addr, port
//	-node-workers / NUM_NODE_WORKERS   max_concurrency (?_workers=N per node wins)
//	RETRIES_MAX (tries in all)         rpc_retries = RETRIES_MAX - 1
//	REQUEST_PROXY_TIMEOUT              rpc_timeout (one try)
//	REQUEST_TIMEOUT                    request_timeout = REQUEST_TIMEOUT + REQUEST_PROXY_TIMEOUT
//	PAYLOAD_MAX_KB                     max_body_bytes
//	ITEMS_*_MAX (0: no limit)          scheduler.max_queued_* (0: evmgate's bound)
//	ITEMS_FASTTRACK_PER_HIGHPRIO       scheduler.fast_track_per_high
//	FASTTRACK_DRAIN_FIRST              scheduler.drain_fast_track_first
//	-log-prod / LOG_PROD               log_format: json
//	-log-service / LOG_SERVICE         a "service" attribute on every log line
//
// JOB_CHAN_BUFFER, JOB_SEND_TIMEOUT, ENABLE_PPROF, ENABLE_ERROR_TEST_API
// and the Proxy* transport settings are accepted and ignored: evmgate has no
// dispatcher channel, no debug endpoints on its RPC port, and sizes each
// node's connections to its workers.
//
// The mock node (mock.go) answers as prio-load-balancer's -mock-node does,
// and also the calls evmgate's health probes make.
package priolb
