// Package reload re-reads the configuration file of a running evmgate when
// the process gets SIGHUP or when the file changes on disk, and hands it to
// the gateway.
//
// # Place in the gateway
//
// cmd/evmgate starts a Reloader beside the gateway. The Reloader owns the
// triggers; its Func does the work (read and validate the file, then
// gateway.Reload), so a file that fails validation is refused with the
// very error `evmgate validate` prints, and the running configuration
// keeps serving. Reloads never overlap.
//
// # Watching the file
//
// The file's directory is watched through filewatch, not the file: editors
// save by writing a new file and renaming it over the old one, and
// Kubernetes updates a mounted ConfigMap by swapping the directory's
// "..data" symlink, and either would end a watch on the file itself.
// Events for the file's name (or a symlink's on its way) or for
// Kubernetes' "..data" entries start a quiet period (Debounce); when it
// ends, the file is read and reloaded only if its bytes differ from those
// last read, so a burst of writes is one reload and a touch is none. SIGHUP always reloads: it also picks up changed
// environment variables (${VAR}) that the file's bytes do not show.
//
// # Metrics
//
//	evmgate_config_reloads_total{result="ok|error"}         reloads tried
//	evmgate_config_last_reload_successful                   1 when the last one applied
//	evmgate_config_last_reload_success_timestamp_seconds    when the configuration in force was loaded
package reload
