#pragma once
// Whole-file reads and atomic writes, with errors that name the file and the system's reason.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace convpt {

// The bytes of `path`; nullopt when it cannot be opened (callers say what a missing file means to them). A read
// that fails (a directory, an I/O error) throws, naming the file, rather than returning a short text.
std::optional<std::string> read_file(const std::filesystem::path& path);

// FNV-1a 64 (core/hash.h) of the bytes of `path`, streamed; throws naming the file when it cannot be read.
uint64_t hash_file(const std::filesystem::path& path);

// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync, rename.
void write_file_atomically(const std::filesystem::path& path, const std::string& contents);

// Throws unless `path` could be written now (its directory exists and is writable, and the file, if present, is
// writable): for outputs that come at the end of long work.
void check_writable(const std::filesystem::path& path);

// Throws std::runtime_error "<what> <path>: <strerror(errno)>".
[[noreturn]] void throw_io_error(const std::string& what, const std::filesystem::path& path);

}  // namespace convpt
