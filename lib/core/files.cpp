#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "core/hash.h"

namespace convpt {

void throw_io_error(const std::string& what, const std::filesystem::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

namespace {
// Passes the bytes of `path` to `consume` in chunks, after `opened` (given the size) once the file is open; false
// when it cannot be opened. POSIX reads, not iostreams: a stream copy turns a read error (a directory, an I/O
// error) into a short text. Throws naming the file when a read fails.
template <typename Opened, typename Consume>
bool read_chunks(const std::filesystem::path& path, const Opened& opened, const Consume& consume) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const auto fail = [&](const char* what) {
    const int error = errno;
    ::close(fd);
    errno = error;
    throw_io_error(what, path);
  };
  struct stat status {};
  if (::fstat(fd, &status) != 0) fail("cannot stat");
  opened(static_cast<size_t>(std::max<off_t>(status.st_size, 0)));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read");
    }
    consume(std::string_view(buffer, static_cast<size_t>(n)));
  }
  ::close(fd);
  return true;
}
}  // namespace

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::string contents;
  if (!read_chunks(path, [&](size_t size) { contents.reserve(size); },
                   [&](std::string_view chunk) { contents.append(chunk); }))
    return std::nullopt;
  return contents;
}

void check_writable(const std::filesystem::path& path) {
  const std::filesystem::path directory = path.parent_path().empty() ? "." : path.parent_path();
  if (::access(directory.c_str(), W_OK) != 0) throw_io_error("cannot write into", directory);
  if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), W_OK) != 0) throw_io_error("cannot write", path);
}

uint64_t hash_file(const std::filesystem::path& path) {
  uint64_t hash = kFnv1a64Basis;
  if (!read_chunks(path, [](size_t) {}, [&](std::string_view chunk) { hash = fnv1a64(chunk, hash); }))
    throw_io_error("cannot read", path);
  return hash;
}

void write_file_atomically(const std::filesystem::path& path, const std::string& contents) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw_io_error("cannot create", temporary);
  for (size_t written = 0; written < contents.size();) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      ::close(fd);
      throw_io_error("cannot write", temporary);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw_io_error("cannot flush", temporary);
  if (::rename(temporary.c_str(), path.c_str()) != 0) throw_io_error("cannot rename into", path);
}

}  // namespace convpt
