// A batch of small mask files (PNG, .npy) read and counted in one call, spread over threads: what
// millions of small files need, where the cost per file (open, read, close, Python) dwarfs the
// decode. Each file is read with the size and modification time its listing gave: open, one read
// (that does not wait for the disk first: a cold file has the disk asked for the files after it),
// fstat, close, and the file is known unchanged when the fstat after the read still says what the
// listing said; a file that differs from its listing is read again the careful way (read_file).
// No Python in here.
#pragma once

#if defined(__linux__)
#include <sched.h>
#endif
#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "files.hpp"
#include "npy.hpp"
#include "png/count.hpp"

namespace fastweights::batch {

enum class Kind : std::uint8_t { png = 0, npy = 1 };

struct Listed {
    std::string path;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    Kind kind = Kind::png;
};

struct Counted {
    int error = 0;         // errno of reading it; 0 when read whole
    bool changed = false;  // changed while it was read: not counted
    std::int64_t size = 0;
    // PNG: the decoder's status. .npy: ok, or unsupported when the general reader must take it.
    png::Status status = png::Status::ok;
    std::string message;
    std::vector<std::pair<std::int64_t, std::uint64_t>> labels;  // label, pixels; ascending
};

namespace detail {

#if !defined(_WIN32)
// The folder of the files a thread last opened, kept open: the files of a batch mostly share a
// folder, and opening each relative to it spares the walk of the whole path per file.
class Folder {
  public:
    Folder() = default;
    Folder(const Folder&) = delete;
    Folder& operator=(const Folder&) = delete;
    ~Folder() { close(); }

    // The file at `path` opened for reading (-1 and errno when it cannot be).
    int open(const std::string& path) noexcept {
        // A FIFO put in a file's place does not block the open.
        constexpr int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
        const std::size_t slash = path.rfind('/');
        if (slash == std::string::npos || slash == 0) return ::open(path.c_str(), flags);
        try {
            if (fd_ < 0 || path.compare(0, slash, name_) != 0 || name_.size() != slash) {
                close();
                name_.assign(path, 0, slash);
                fd_ = ::open(name_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            }
        } catch (...) {
            close();
        }
        if (fd_ < 0) return ::open(path.c_str(), flags);
        return ::openat(fd_, path.c_str() + slash + 1, flags);
    }

  private:
    void close() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        name_.clear();
    }

    int fd_ = -1;
    std::string name_;
};
#else
struct Folder {};
#endif

// The file into `buffer` (resized to what was read). False when it differs from its listing, or
// could not be read as listed: the caller reads it the careful way then. `on_cold()` is called
// before waiting for the disk when its first bytes are not in the page cache.
template <class OnCold>
inline bool read_as_listed(const Listed& file, std::vector<unsigned char>& buffer, Folder& folder,
                           OnCold&& on_cold) noexcept {
#if defined(_WIN32)
    (void)file;
    (void)buffer;
    (void)folder;
    return false;
#else
    if (file.size < 0) return false;
    const int fd = folder.open(file.path);
    if (fd < 0) return false;
    // What the listing gave, and no more: whether the file grew since, the fstat below tells.
    const auto listed = static_cast<std::size_t>(file.size);
    std::size_t got = 0;
    bool ok = true;
    try {
        buffer.resize(listed);
    } catch (...) {
        ok = false;
    }
#if defined(RWF_NOWAIT)
    // The first read does not wait for the disk: a cached file (most) is read by it all the same,
    // and one that is not is known cold, so that the files after it can be asked for at once.
    if (ok && listed > 0) {
        iovec part{buffer.data(), listed};
        const ssize_t n = ::preadv2(fd, &part, 1, 0, RWF_NOWAIT);
        if (n > 0) got = static_cast<std::size_t>(n);
        // A partial read leaves the file offset where it was: the reads below go on from `got`.
        if (got > 0 && got < listed) ::lseek(fd, static_cast<off_t>(got), SEEK_SET);
        if (n < 0 && errno == EAGAIN) on_cold();
    }
#else
    (void)on_cold;
#endif
    while (ok && got < listed) {
        const ssize_t n = ::read(fd, buffer.data() + got, listed - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {  // an error, or the file ends before its listed size
            ok = false;
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    struct stat info;
    ok = ok && ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size == file.size &&
         mtime_ns_of(info) == file.mtime_ns;
    ::close(fd);
    return ok;
#endif
}

inline void present(const std::vector<std::uint64_t>& table, std::vector<std::pair<std::int64_t, std::uint64_t>>& out) {
    for (std::size_t label = 0; label < table.size(); ++label) {
        if (table[label] != 0) out.emplace_back(static_cast<std::int64_t>(label), table[label]);
    }
}

#if !defined(_WIN32)
// Asks the disk for a file's bytes without waiting for them (a hint: a file that cannot be opened
// is left to its read).
inline void ask_for(const Listed& file, Folder& folder) noexcept {
    const int fd = folder.open(file.path);
    if (fd < 0) return;
#if defined(POSIX_FADV_WILLNEED)
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
#endif
    ::close(fd);
}
#endif

template <class OnCold>
inline void count_one(const Listed& file, std::uint64_t max_pixels, std::vector<unsigned char>& buffer,
                      Folder& folder, Counted& out, OnCold&& on_cold) {
    const unsigned char* data = nullptr;
    std::size_t size = 0;
    FileContents careful;
    if (read_as_listed(file, buffer, folder, on_cold)) {
        data = buffer.data();
        size = buffer.size();
    } else {
        careful = read_file(file.path);
        out.error = careful.error;
        out.changed = careful.changed;
        data = careful.bytes.data();
        size = careful.bytes.size();
    }
    out.size = static_cast<std::int64_t>(size);
    if (out.error != 0 || out.changed) return;
    if (file.kind == Kind::npy) {
        npy::Result counted = npy::count_npy(data, size);
        if (counted.counted) {
            out.labels = std::move(counted.tally);
        } else {
            out.status = png::Status::unsupported;
        }
        return;
    }
    if (size == 0) {
        out.status = png::Status::not_png;
        return;
    }
    png::CountResult counted = png::count_png(data, size, max_pixels);
    out.status = counted.status;
    out.message = std::move(counted.message);
    if (counted.status == png::Status::ok) present(counted.table, out.labels);
}

}  // namespace detail

// How many files ahead the disk is asked for when a cold one is met.
constexpr std::size_t READ_AHEAD_FILES = 64;

// Every file of the batch read and counted, on `threads` threads taking files in turn.
inline std::vector<Counted> count_files(const std::vector<Listed>& files, std::uint64_t max_pixels, int threads) {
    std::vector<Counted> results(files.size());
    std::atomic<std::size_t> next{0};
    // Cold files: one read at a time waits for the disk a file at a time (about 100 µs a tiny file
    // here, twenty times the count). A file found cold asks the disk for the next READ_AHEAD_FILES
    // at once, so that many are read together while the threads count.
    std::atomic<std::size_t> asked{0};  // files before this one were asked for
    const auto ask_ahead = [&](std::size_t from, detail::Folder& folder) {
#if defined(_WIN32)
        (void)from;
        (void)folder;
#else
        const std::size_t end = std::min(files.size(), from + READ_AHEAD_FILES);
        std::size_t seen = asked.load(std::memory_order_relaxed);
        do {
            if (seen >= end) return;
        } while (!asked.compare_exchange_weak(seen, end, std::memory_order_relaxed));
        for (std::size_t k = std::max(seen, from); k < end; ++k) detail::ask_for(files[k], folder);
#endif
    };
    const auto work = [&]() {
        std::vector<unsigned char> buffer;
        detail::Folder folder;
        for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < files.size();) {
            try {
                detail::count_one(files[i], max_pixels, buffer, folder, results[i],
                                  [&] { ask_ahead(i + 1, folder); });
            } catch (...) {  // out of memory: nothing may leave a thread
                results[i].labels.clear();
                results[i].status = png::Status::out_of_memory;
                results[i].message = "out of memory while counting it";
            }
        }
    };
    // Threads of one process share one table of open files, and each open and close locks it: on
    // 100,000 tiny .npy files two threads took 2.5 µs a file on the shared table, 2.3 with a table
    // each (two processes: 2.0). So each helper gets a table of its own (unshare(CLONE_FILES), no
    // privilege needed; where a sandbox refuses it, the helper works on the shared table). Its copy
    // holds the process's other files open until the helper ends, a few milliseconds later; closing
    // it releases no POSIX lock of theirs, since those belong to the table that took them. The
    // calling thread, whose table is the process's, only waits.
    const auto work_on_own_table = [&]() {
#if defined(__linux__)
        ::unshare(CLONE_FILES);
#endif
        work();
    };
    // One file is read where it is asked for: a thread would cost more than it.
    const std::size_t helpers =
        threads > 1 && files.size() > 1 ? std::min<std::size_t>(static_cast<std::size_t>(threads), files.size()) : 0;
    std::vector<std::thread> pool;
    try {
        for (std::size_t t = 0; t < helpers; ++t) pool.emplace_back(work_on_own_table);
    } catch (...) {  // no thread to be had: the calling thread does the rest
    }
    if (pool.empty()) work();
    for (auto& thread : pool) thread.join();
    return results;
}

}  // namespace fastweights::batch
