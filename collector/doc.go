// Package collector reads container output from log files on one machine
// and hands it to the sinks: it discovers the kubelet's layout
// (<root>/<namespace>_<pod>_<uid>/<container>/<n>.log, which opshub's local
// runtime writes too), tails every file through rotation and restarts,
// parses CRI and Docker json-file records, merges partial lines, enriches
// them with the file's identity, and keeps a checkpoint per file that moves
// only when the sinks have acknowledged the lines. It also answers queries
// and live tails by reading the same files (Query, Follow).
//
// It must not deliver to destinations itself (that is package sinks), must
// not drop a line silently (malformed and over-long lines are passed on and
// counted), and must not advance a checkpoint before the acknowledgement.
// Metadata beyond the path comes through a Resolver; the package never calls
// a platform API itself.
package collector
