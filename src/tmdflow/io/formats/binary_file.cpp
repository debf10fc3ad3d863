#include "tmdflow/io/formats/binary_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "tmdflow/core/error.hpp"

namespace tmdflow::io {

BinaryFile::BinaryFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw IoError(path + ": expected a regular file, found " + (S_ISDIR(st.st_mode) ? "a directory" : "something else"));
  }
  size_ = std::uint64_t(st.st_size);
}

BinaryFile::~BinaryFile() {
  if (fd_ >= 0) ::close(fd_);
}

BinaryFile::BinaryFile(BinaryFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}

std::uint64_t BinaryFile::read_some_at(std::uint64_t offset, void* out, std::uint64_t n) const {
  auto* p = static_cast<char*>(out);
  std::uint64_t done = 0;
  while (done < n) {
    // pread moves at most ~2 GiB per call on Linux; loop until done or end of file.
    ssize_t got = ::pread(fd_, p + done, std::size_t(n - done), off_t(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw IoError(path_ + ": read of " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                    " failed: " + std::strerror(errno));
    }
    if (got == 0) break;
    done += std::uint64_t(got);
  }
  return done;
}

void BinaryFile::read_at(std::uint64_t offset, void* out, std::uint64_t n) const {
  std::uint64_t got = read_some_at(offset, out, n);
  if (got != n)
    throw IoError(path_ + ": read at offset " + std::to_string(offset) + ": expected " + std::to_string(n) +
                  " bytes, found " + std::to_string(got) + " (was the file truncated while reading?)");
}

}  // namespace tmdflow::io
