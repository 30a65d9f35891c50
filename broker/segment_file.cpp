// segment_file.cpp — opening, checking, building and publishing the file
// behind an arena (segment_file.hpp says why it is done by hand).
#include "segment_file.hpp"

#include "mapping_registry.hpp"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>
#include <utility>

#include "shoal/errors.hpp"
#include "shoal/layout.hpp"
#include "process_identity.hpp"

namespace shoal::segment {
namespace {

constexpr const char* kDirectory = "/dev/shm";
// Temporaries are hidden files ("."), so `shoal ls` (shoal.*) never lists
// them: ".shoal-new.PID.START.RANDOM", the creator's identity inside.
constexpr std::string_view kTemporaryPrefix = ".shoal-new.";
// A temporary is removed only when its creator is gone AND it has not
// changed for this long: a creator in another pid namespace sharing
// /dev/shm looks dead to us, but it builds an arena in far less time.
constexpr std::time_t kAbandonedAfterSeconds = 60;

// A file descriptor, closed with this object.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::string describe(const std::string& name, const std::string& path) {
  return "arena '" + name + "' (" + path + ")";
}

std::string user_name(uid_t uid) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return std::string("user '") + found->pw_name + "' (uid " + std::to_string(uid) + ")";
  }
  return "uid " + std::to_string(uid);
}

const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link (shoal does not follow links in /dev/shm)";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// The checks every arena file passes before we map it, on lstat() before
// opening (so nothing odd is ever opened) and again on fstat() of the open
// descriptor (so a file swapped in between is caught too).
void check_file(const struct stat& st, const std::string& name, const std::string& path, bool other_user) {
  if (!S_ISREG(st.st_mode)) {
    throw NotAnArena(path + " is not a shoal arena: it is " + kind_of(st.st_mode));
  }
  if (st.st_uid != geteuid() && !other_user) {
    throw PermissionDenied("permission denied opening " + describe(name, path) + ": it belongs to " +
                           user_name(st.st_uid) + ", not to you, " + user_name(geteuid()) +
                           "; shoal opens another user's arena only when asked to (other_user=True in "
                           "Python, --other-user in the CLI, ArenaOptions::other_user in C++)");
  }
}

[[noreturn]] void throw_open_error(int err, const std::string& name, const std::string& path, bool writable) {
  if (err == ENOENT) throw ArenaNotFound("no " + describe(name, path) + ": nothing of that name exists");
  if (err == EACCES || err == EPERM) {
    struct stat st {};
    char mode[8] = "?";
    if (::lstat(path.c_str(), &st) == 0) std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
    throw PermissionDenied("permission denied opening " + describe(name, path) + ": its mode " + mode +
                           " does not let " + user_name(geteuid()) + " open it for " +
                           (writable ? "writing" : "reading"));
  }
  if (err == ELOOP) throw NotAnArena(path + " is not a shoal arena: it is " + kind_of(S_IFLNK));
  if (err == EISDIR || err == ENXIO || err == ENODEV || err == ETXTBSY) {
    throw NotAnArena(path + " is not a shoal arena: it cannot be opened as a file (" + std::strerror(err) + ")");
  }
  throw SystemError("opening " + describe(name, path) + " failed: " + std::strerror(err));
}

std::string random_hex() {
  std::array<unsigned char, 8> bytes{};
  if (getrandom(bytes.data(), bytes.size(), GRND_NONBLOCK) != static_cast<ssize_t>(bytes.size())) {
    // Early in boot only; pid, start time and O_EXCL still keep names apart.
    static std::uint64_t counter = 0;
    const std::uint64_t value = ++counter;
    std::memcpy(bytes.data(), &value, sizeof value);
  }
  std::string hex;
  for (const unsigned char b : bytes) {
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", b);
    hex += digits;
  }
  return hex;
}

std::string new_temporary_path() {
  const ProcessIdentity me = current_process();
  return std::string(kDirectory) + "/" + std::string(kTemporaryPrefix) + std::to_string(me.pid) + "." +
         std::to_string(me.start_time) + "." + random_hex();
}

// The creator named in a temporary's file name; false if `file` is not one.
bool temporary_creator(std::string_view file, ProcessIdentity* creator) {
  if (!file.starts_with(kTemporaryPrefix)) return false;
  std::string_view rest = file.substr(kTemporaryPrefix.size());
  const char* end = rest.data() + rest.size();
  long pid = 0;
  auto parsed = std::from_chars(rest.data(), end, pid);
  if (parsed.ec != std::errc() || pid <= 0 || parsed.ptr == end || *parsed.ptr != '.') return false;
  std::uint64_t start = 0;
  parsed = std::from_chars(parsed.ptr + 1, end, start);
  if (parsed.ec != std::errc() || parsed.ptr == end || *parsed.ptr != '.') return false;
  creator->pid = static_cast<pid_t>(pid);
  creator->start_time = start;
  return true;
}

}  // namespace

std::string path_of(const std::string& name) { return std::string(kDirectory) + "/shoal." + name; }

// ------------------------------------------------------------ Mapping ----

Mapping::~Mapping() {
  if (address_ != nullptr) ::munmap(address_, bytes_);
}

Mapping::Mapping(Mapping&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (address_ != nullptr) ::munmap(address_, bytes_);
    address_ = std::exchange(other.address_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

std::shared_ptr<const Mapping> map_existing(const std::string& name, bool writable, bool other_user) {
  const std::string path = path_of(name);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_open_error(errno, name, path, writable);
  check_file(st, name, path, other_user);

  // O_NONBLOCK: should a FIFO be swapped in after the lstat, open() must
  // not wait for a writer. O_NOFOLLOW: nor may a link lead us elsewhere.
  const int flags = (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  const FileDescriptor fd(::open(path.c_str(), flags));
  if (!fd) throw_open_error(errno, name, path, writable);
  if (::fstat(fd.get(), &st) != 0) {
    throw SystemError("examining " + describe(name, path) + " failed: " + std::strerror(errno));
  }
  check_file(st, name, path, other_user);
  const auto bytes = static_cast<std::uint64_t>(st.st_size);
  if (bytes < layout::kHeaderBytes) {
    throw NotAnArena(path + " is not a shoal arena: it is " + std::to_string(bytes) +
                     " bytes, smaller than an arena header (" + std::to_string(layout::kHeaderBytes) + ")");
  }
  const MappingKey key{st.st_dev, st.st_ino, writable, bytes};
  return shared_mapping(key, [&] {
    void* address = ::mmap(nullptr, bytes, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd.get(), 0);
    if (address == MAP_FAILED) {
      throw SystemError("mapping " + describe(name, path) + " failed: " + std::strerror(errno));
    }
    return Mapping(address, bytes);  // the mapping outlives the descriptor
  });
}

// ----------------------------------------------------- PendingSegment ----

PendingSegment::PendingSegment(std::string name, std::uint64_t bytes) : name_(std::move(name)) {
  std::string path;
  int raw_fd = -1;
  for (int attempt = 1; raw_fd < 0; ++attempt) {
    path = new_temporary_path();
    raw_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
    if (raw_fd >= 0) break;
    const int err = errno;
    if (err == EEXIST && attempt < 8) continue;  // a random name taken: draw another
    if (err == EACCES || err == EPERM) {
      throw PermissionDenied("permission denied creating " + describe(name_, path_of(name_)) + ": cannot create " +
                             "files in " + kDirectory);
    }
    throw SystemError("creating " + describe(name_, path_of(name_)) + " failed: cannot create " + path + ": " +
                      std::strerror(err));
  }
  const FileDescriptor fd(raw_fd);
  temporary_path_ = path;  // from here on the destructor removes it
  try {
    // fchmod: a restrictive umask must not leave the file unreadable to
    // our own attachers, and a permissive one must not widen it.
    struct stat st {};
    if (::fchmod(fd.get(), 0600) != 0 || ::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0 ||
        ::fstat(fd.get(), &st) != 0) {
      throw SystemError("arena '" + name_ + "': sizing the new segment failed: " + std::strerror(errno));
    }
    device_ = st.st_dev;  // link(2) keeps the inode: the published file is this one
    inode_ = st.st_ino;
    void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (address == MAP_FAILED) {
      throw SystemError("arena '" + name_ + "': mapping the new segment failed: " + std::strerror(errno));
    }
    mapping_ = Mapping(address, bytes);
  } catch (...) {
    ::unlink(temporary_path_.c_str());
    throw;
  }
}

PendingSegment::~PendingSegment() {
  if (!temporary_path_.empty()) ::unlink(temporary_path_.c_str());
}

std::shared_ptr<const Mapping> PendingSegment::publish() {
  const std::string path = path_of(name_);
  // link(2), not rename(2): rename would silently replace an arena already
  // under that name; link fails with EEXIST instead.
  if (::link(temporary_path_.c_str(), path.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST) throw ArenaExists(describe(name_, path) + " already exists");
    if (err == EACCES || err == EPERM) throw PermissionDenied("permission denied creating " + describe(name_, path));
    throw SystemError("publishing " + describe(name_, path) + " failed: " + std::strerror(err));
  }
  ::unlink(temporary_path_.c_str());
  temporary_path_.clear();
  const MappingKey key{device_, inode_, /*writable=*/true, mapping_.bytes()};
  return shared_mapping(key, [this] { return std::move(mapping_); });
}

// ------------------------------------------------------- temporaries ----

void remove_abandoned_temporaries() {
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(kDirectory), ::closedir);
  if (!dir) return;
  const uid_t me = geteuid();
  const std::time_t now = std::time(nullptr);
  while (const dirent* entry = ::readdir(dir.get())) {
    ProcessIdentity creator;
    if (!temporary_creator(entry->d_name, &creator)) continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != me) continue;  // not ours to judge
    if (now - st.st_mtime < kAbandonedAfterSeconds || is_alive(creator)) continue;
    ::unlinkat(::dirfd(dir.get()), entry->d_name, 0);
  }
}

}  // namespace shoal::segment
