// One folder's entries: one readdir pass, then fstatat on the open folder (one stat per entry,
// following symbolic links, as os.scandir's DirEntry.stat does). Hidden entries (a leading dot) are
// left out. Each entry's extension is matched against the caller's list, so that a folder of a
// million masks is filtered without a Python call per file. POSIX only; no Python in here.
#pragma once

#if !defined(_WIN32)

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "files.hpp"

namespace fastweights::listing {

struct Entry {
    std::string name;
    int error = 0;  // errno of its stat (ENOENT: a broken symbolic link); the fields below are 0 then
    std::uint32_t mode = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    int extension = -1;  // its position in the caller's list of extensions; -1 for none of them
};

// The extension as fastweights' Python extension_of gives it (lower case, ".nii.gz" whole, none
// when the only dots lead the name). ASCII lower case is enough: the readers' extensions are ASCII
// and none holds a letter whose Unicode lower case is ASCII from outside ASCII.
inline std::string extension_of(const std::string& name) {
    std::string lower = name;
    for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    static const std::string nii_gz = ".nii.gz";
    if (lower.size() >= nii_gz.size() && lower.compare(lower.size() - nii_gz.size(), nii_gz.size(), nii_gz) == 0) {
        return nii_gz;
    }
    const std::size_t dot = lower.rfind('.');
    if (dot == std::string::npos || dot == 0) return {};
    if (lower.find_first_not_of('.') >= dot) return {};  // only dots before it
    return lower.substr(dot);
}

inline int position_of(const std::string& extension, const std::vector<std::string>& extensions) {
    if (extension.empty()) return -1;
    for (std::size_t i = 0; i < extensions.size(); ++i) {
        if (extensions[i] == extension) return static_cast<int>(i);
    }
    return -1;
}

// A folder's entries: its names read in one readdir pass, then stat'ed (fstatat on the open
// folder) a stretch at a time, so that the files of the first stretches can be counted while the
// later ones are stat'ed. The folder stays open until this is destroyed.
class FolderEntries {
public:
    FolderEntries(const std::string& folder, const std::vector<std::string>& extensions) {
        dir_ = ::opendir(folder.c_str());
        if (dir_ == nullptr) {
            error_ = errno ? errno : EIO;
            return;
        }
        for (;;) {
            errno = 0;
            const dirent* found = ::readdir(dir_);
            if (found == nullptr) {
                error_ = errno;
                break;
            }
            if (found->d_name[0] == '.') continue;  // hidden, and "." and ".."
            Entry entry;
            entry.name = found->d_name;
            entry.extension = position_of(extension_of(entry.name), extensions);
            entries_.push_back(std::move(entry));
        }
    }
    FolderEntries(const FolderEntries&) = delete;
    FolderEntries& operator=(const FolderEntries&) = delete;
    ~FolderEntries() {
        if (dir_ != nullptr) ::closedir(dir_);
    }

    // errno of opening or reading the folder; 0 when it was read whole
    int error() const noexcept { return error_; }
    std::vector<Entry>& entries() noexcept { return entries_; }

    // Fills in the stat of entries [begin, end).
    void stat(std::size_t begin, std::size_t end) {
        const int fd = ::dirfd(dir_);
        for (std::size_t i = begin; i < end && i < entries_.size(); ++i) {
            Entry& entry = entries_[i];
            struct stat info;
            if (::fstatat(fd, entry.name.c_str(), &info, 0) != 0) {
                entry.error = errno ? errno : EIO;
                continue;
            }
            entry.mode = static_cast<std::uint32_t>(info.st_mode);
            entry.size = static_cast<std::int64_t>(info.st_size);
            entry.mtime_ns = mtime_ns_of(info);
            entry.device = static_cast<std::uint64_t>(info.st_dev);
            entry.inode = static_cast<std::uint64_t>(info.st_ino);
        }
    }

private:
    DIR* dir_ = nullptr;
    int error_ = 0;
    std::vector<Entry> entries_;
};

}  // namespace fastweights::listing

#endif
