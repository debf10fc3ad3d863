#pragma once
// The inputs of a campaign: a manifest (a folder, a glob, a list file) expanded into a sorted list
// of files, each with a key -- its path relative to the manifest's root -- that names its product
// and its ledger entries, and stays the same when the archive moves.
#include <string>
#include <vector>

namespace tmdflow::campaign {

struct InputFile {
  std::string path;  // absolute, as read (FILE or FILE.h5:/group)
  std::string key;   // relative to the manifest's root: "2024-05/scan_003.mib"
};

struct ManifestOptions {
  /// Only files whose name matches this glob (fnmatch: "*.mib", "scan_*.h5"); empty: every file.
  std::string match;
  /// Files inside this folder are never inputs (the campaign's own folder, when it lies inside the
  /// archive: its products must not become inputs of the next plan).
  std::string exclude_dir;
};

/// Expands a manifest, sorted by key:
///  * a folder: every regular file below it (recursively; names starting with '.' left out);
///  * a glob: `*`, `?` and `[...]` within one path component, `**` for any number of folders
///    ("/data/2024/**/scan_*.mib");
///  * a list file, named `@FILE` or ending in .txt or .list: one path per line (relative paths are
///    relative to the list's folder; `#` starts a comment; FILE.h5:/group names a group).
/// Keys are relative to the folder, the glob's fixed leading folders, or the common folder of the
/// listed files. Throws IoError (a missing folder, list or listed file) or InputError (nothing
/// matched, or two entries with one key).
std::vector<InputFile> expand_manifest(const std::string& spec, const ManifestOptions& options = {});

/// True when `name` matches the shell glob `pattern` (one path component).
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace tmdflow::campaign
