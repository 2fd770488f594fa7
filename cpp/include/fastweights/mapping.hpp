// A read-only memory map of a whole file that survives the file shrinking under it (a data set still
// syncing, another job rewriting a mask). Touching a page past a file's new end raises SIGBUS, which
// would kill the process; here a SIGBUS inside a guarded map instead maps zeros over the rest of it
// and marks it faulted, so the read goes on and the caller refuses the file once the chunk is done.
// Any other SIGBUS goes to the handler that was there before. POSIX only: Windows refuses to shrink a
// file while a view of it is mapped. No Python in here.
#pragma once

#if !defined(_WIN32)

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

namespace fastweights::mapping {

namespace detail {

struct Slot {
    std::atomic<bool> taken{false};
    std::atomic<std::uintptr_t> begin{0};  // 0: no map guarded here
    std::atomic<std::uintptr_t> end{0};
    std::atomic<bool> faulted{false};
};

// Fixed, so that the signal handler reads it without locks or allocation.
inline constexpr std::size_t slot_count = 4096;
inline Slot slots[slot_count];
inline struct sigaction previous_action {};
inline std::uintptr_t page_size = 0;
inline std::mutex install_lock;

inline void on_sigbus(int signal, siginfo_t* info, void* context) {
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (auto& slot : slots) {
        const auto begin = slot.begin.load(std::memory_order_acquire);
        const auto end = slot.end.load(std::memory_order_acquire);
        if (begin == 0 || address < begin || address >= end) continue;
        slot.faulted.store(true, std::memory_order_release);
        const auto page = address & ~(page_size - 1);
        void* zeros = ::mmap(reinterpret_cast<void*>(page), end - page, PROT_READ,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (zeros != MAP_FAILED) return;  // the faulting read runs again, and reads zeros
        break;
    }
    if (previous_action.sa_flags & SA_SIGINFO) {
        previous_action.sa_sigaction(signal, info, context);
    } else if (previous_action.sa_handler == SIG_DFL || previous_action.sa_handler == SIG_IGN) {
        ::signal(SIGBUS, SIG_DFL);  // the read faults again, and the default action ends the process
    } else {
        previous_action.sa_handler(signal);
    }
}

// Installed again when something else (faulthandler.enable(), say) took SIGBUS since; that handler
// then gets the faults that are not in a guarded map.
inline void install_handler() {
    std::lock_guard<std::mutex> hold(install_lock);
    page_size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction current {};
    ::sigaction(SIGBUS, nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_sigbus) return;
    struct sigaction ours {};
    ours.sa_sigaction = on_sigbus;
    ours.sa_flags = SA_SIGINFO;
    sigemptyset(&ours.sa_mask);
    ::sigaction(SIGBUS, &ours, &previous_action);
}

}  // namespace detail

class GuardedMap {
  public:
    // errno of the failed open, stat or map; 0 when mapped (or the file is empty).
    explicit GuardedMap(const std::string& path) {
        // Not blocking: a FIFO swapped in for the file would hold a plain open until a writer came.
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            error_ = errno;
            return;
        }
        struct stat info {};
        if (::fstat(fd, &info) != 0) {
            error_ = errno;
        } else if (!S_ISREG(info.st_mode)) {
            error_ = EINVAL;
        } else if (info.st_size > 0) {
            size_ = static_cast<std::size_t>(info.st_size);
            map(fd);
        }
        ::close(fd);
    }
    GuardedMap(const GuardedMap&) = delete;
    GuardedMap& operator=(const GuardedMap&) = delete;
    ~GuardedMap() {
        if (slot_ != nullptr) {  // unguarded before unmapped: the addresses may be reused at once
            slot_->begin.store(0, std::memory_order_release);
            slot_->end.store(0, std::memory_order_release);
            slot_->faulted.store(false);
            slot_->taken.store(false, std::memory_order_release);
        }
        if (data_ != nullptr) ::munmap(data_, size_);
    }

    int error() const { return error_; }
    const unsigned char* data() const { return static_cast<const unsigned char*>(data_); }
    std::size_t size() const { return data_ != nullptr ? size_ : 0; }
    // Whether a read fell past the file's end (or the file could not be read there): what was read
    // of this map since is zeros, not the file.
    bool faulted() const { return slot_ != nullptr && slot_->faulted.load(std::memory_order_acquire); }
    // This process's pages of [offset, offset + length) handed back (the page cache keeps them).
    void discard(std::size_t offset, std::size_t length) const {
        if (data_ != nullptr && offset < size_) {
            ::madvise(static_cast<char*>(data_) + offset, std::min(length, size_ - offset), MADV_DONTNEED);
        }
    }

  private:
    void map(int fd) {
        detail::install_handler();
        for (auto& slot : detail::slots) {
            bool free = false;
            if (slot.taken.compare_exchange_strong(free, true)) {
                slot_ = &slot;
                break;
            }
        }
        if (slot_ == nullptr) {
            error_ = EMFILE;  // more guarded maps alive at once than there are slots
            return;
        }
        void* data = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
        if (data == MAP_FAILED) {
            error_ = errno;
            return;
        }
        data_ = data;
        const auto begin = reinterpret_cast<std::uintptr_t>(data);
        slot_->faulted.store(false);
        slot_->end.store(begin + size_, std::memory_order_release);
        slot_->begin.store(begin, std::memory_order_release);
    }

    void* data_ = nullptr;
    std::size_t size_ = 0;
    int error_ = 0;
    detail::Slot* slot_ = nullptr;
};

}  // namespace fastweights::mapping

#endif
