// Reading a whole (small) file into a buffer, so that a batch of mask files can be read and decoded
// in one call without the GIL. No Python in here; the histogram kernel does not use it.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace fastweights {

struct FileContents {
    int error = 0;         // errno of the failed open or read; 0 when `bytes` holds the whole file
    bool changed = false;  // its size or modification time changed while it was read: a count of
                           // the bytes read would be of neither version
    std::vector<unsigned char> bytes;
};

// A file's size and modification time, as the open file sees them.
struct FileStamp {
    long long size = -1;
    long long seconds = 0;
    long nanoseconds = 0;
    bool operator==(const FileStamp& other) const noexcept {
        return size == other.size && seconds == other.seconds && nanoseconds == other.nanoseconds;
    }
};

#if !defined(_WIN32)
// A stat's modification time in nanoseconds, as Python's st_mtime_ns gives it.
inline std::int64_t mtime_ns_of(const struct stat& info) noexcept {
#if defined(__APPLE__)
    return static_cast<std::int64_t>(info.st_mtimespec.tv_sec) * 1000000000 + info.st_mtimespec.tv_nsec;
#else
    return static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
#endif
}
#endif

inline FileStamp stamp_of(std::FILE* file) noexcept {
    FileStamp stamp;
#if defined(_WIN32)
    struct _stat64 info;
    if (_fstat64(_fileno(file), &info) == 0) stamp = {info.st_size, info.st_mtime, 0};
#else
    struct stat info;
    if (fstat(fileno(file), &info) == 0) {
        stamp.size = info.st_size;
        stamp.seconds = info.st_mtime;
#if defined(__APPLE__)
        stamp.nanoseconds = info.st_mtimespec.tv_nsec;
#elif defined(__linux__)
        stamp.nanoseconds = info.st_mtim.tv_nsec;
#endif
    }
#endif
    return stamp;
}

inline FileContents read_file(const std::string& path) noexcept {
    FileContents out;
    struct Closer {
        void operator()(std::FILE* file) const noexcept { std::fclose(file); }
    };
    errno = 0;
#if defined(_WIN32)
    std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
#else
    // Not blocking: a FIFO put in a listed file's place would hold a plain open until a writer came,
    // and one whose writer is gone, for ever.
    const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (descriptor < 0) {
        out.error = errno ? errno : EIO;
        return out;
    }
    struct stat info;
    if (::fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode)) {
        ::close(descriptor);
        out.changed = true;  // listed as a regular file, and no longer one
        return out;
    }
    std::unique_ptr<std::FILE, Closer> file(::fdopen(descriptor, "rb"));
    if (!file) ::close(descriptor);
#endif
    if (!file) {
        out.error = errno ? errno : EIO;
        return out;
    }
    const FileStamp before = stamp_of(file.get());
    try {
        unsigned char block[1 << 16];
        std::size_t got;
        while ((got = std::fread(block, 1, sizeof block, file.get())) > 0) {
            out.bytes.insert(out.bytes.end(), block, block + got);
        }
    } catch (...) {
        out.error = ENOMEM;
        return out;
    }
    if (std::ferror(file.get())) out.error = errno ? errno : EIO;
    out.changed = !(stamp_of(file.get()) == before) || before.size != static_cast<long long>(out.bytes.size());
    return out;
}

}  // namespace fastweights
