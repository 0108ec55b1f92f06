// Package filewatch tells when files change on disk. It watches their
// directories (fsnotify), not the files: editors and certificate tools
// replace a file by renaming a new one over it, and Kubernetes updates a
// mounted ConfigMap or Secret by swapping the directory's "..data" symlink;
// either would end a watch on the file itself.
//
// Only the events that concern the files count: an event on a file's name,
// on the name of a symlink it goes through or of the file a symlink points
// to in a watched directory, or on Kubernetes' ".." entries ("..data",
// "..data_tmp" and the timestamped directories). Anything else written in
// the directory, such as a log file, is ignored. The events that count
// start a quiet period; when it ends, the Watcher calls Changed once, so a
// burst of writes is one call. Whether the files' contents really changed
// is for the caller to decide.
package filewatch
