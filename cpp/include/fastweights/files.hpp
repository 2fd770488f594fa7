// Reading a whole (small) file into a buffer, so that a batch of mask files can be read and decoded
// in one call without the GIL. No Python in here; the histogram kernel does not use it.
#pragma once

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace fastweights {

struct FileContents {
    int error = 0;  // errno of the failed open or read; 0 when `bytes` holds the whole file
    std::vector<unsigned char> bytes;
};

inline FileContents read_file(const std::string& path) noexcept {
    FileContents out;
    struct Closer {
        void operator()(std::FILE* file) const noexcept { std::fclose(file); }
    };
    errno = 0;
    std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) {
        out.error = errno ? errno : EIO;
        return out;
    }
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
    return out;
}

}  // namespace fastweights
