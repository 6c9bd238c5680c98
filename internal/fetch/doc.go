// Package fetch copies a pack's files from a source (local directory, local
// archive, archive URL or git repository) into a private directory, refusing
// anything that could escape or exhaust that directory.
//
// Every source ends up as a plain tree of regular files and directories:
// symbolic links, hard links, devices, FIFOs, path traversal, duplicate
// entries and archives that unpack beyond [Limits] are refused with an
// [*Error] whose Code is [CodeBadUserInput], naming the offending entry.
// Sources the user asked for that do not exist are refused with
// [CodeNotFound]. Other errors are internal failures (disk, git missing, a
// cancelled context) and are returned wrapped.
//
// Callers own the destination: they create an empty directory, call [Fetch]
// or [Extract], and remove the directory if either returns an error, since a
// refused archive may have been partly unpacked by then. Temporary files
// (downloads, spooled zips, git clones) are created beside the destination, in
// its parent directory, and are always removed before returning.
package fetch
