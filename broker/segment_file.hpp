// segment_file.hpp — the file behind an arena, /dev/shm/shoal.NAME: opened,
// checked, built and published with plain POSIX calls.
//
// Two rules live here, for every process that opens an arena:
//
// * Opening never blocks and never follows a link: a FIFO or a symbolic
//   link planted under an arena's name is refused at once (NotAnArena), and
//   only a regular file owned by the caller's effective uid is mapped. Root
//   may map another user's arena, but only when asked (other_user): a file
//   planted by someone else is never used by accident.
//   (Boost.Interprocess's shared_memory_object, used before, goes through
//   shm_open, which cannot pass O_NONBLOCK or O_NOFOLLOW, and checks
//   neither the file's type nor its owner.)
//
// * A new arena is built complete under a private temporary name and only
//   then published under its real name with link(2), which fails if the
//   name is taken. So an attacher sees either no arena or a whole one, and
//   of two creators exactly one wins. A creator that dies while building
//   leaves its temporary behind; the next create removes it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shoal::segment {

// "/dev/shm/shoal.NAME" (the name has been validated).
std::string path_of(const std::string& name);

// A shared mapping of a whole segment file, unmapped with this object.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* address, std::size_t bytes) : address_(address), bytes_(bytes) {}
  ~Mapping();
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::byte* address() const { return static_cast<std::byte*>(address_); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  void* address_ = nullptr;
  std::size_t bytes_ = 0;
};

// Maps the existing segment of arena `name` (read-only, or read-write), after
// checking, on the open descriptor, that it is a regular file owned by this
// user (or, with `other_user`, by anyone): this process's one mapping of
// that file, shared with every other attach of it (mapping_registry.hpp).
// Throws ArenaNotFound, NotAnArena (a link, FIFO, directory, ... or a file
// too small for a header), PermissionDenied (naming the owner).
std::shared_ptr<const Mapping> map_existing(const std::string& name, bool writable, bool other_user);

// A new segment under construction: a private file in /dev/shm, sized and
// mapped read-write, that no attacher can find. Unlinked by the destructor
// unless published.
class PendingSegment {
 public:
  // Throws PermissionDenied, SystemError (sizing or mapping failed).
  PendingSegment(std::string name, std::uint64_t bytes);
  ~PendingSegment();
  PendingSegment(const PendingSegment&) = delete;
  PendingSegment& operator=(const PendingSegment&) = delete;

  std::byte* address() const { return mapping_.address(); }

  // Gives the file its real name, atomically: ArenaExists if that is taken
  // (then nothing of ours stays in /dev/shm). Returns the mapping, which
  // the arena keeps (registered: later attaches in this process share it);
  // the temporary name is gone either way.
  std::shared_ptr<const Mapping> publish();

 private:
  std::string name_;
  std::string temporary_path_;
  Mapping mapping_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
};

// Removes the temporaries of creators that died while building (ours only:
// regular files of this uid whose creator no longer runs).
void remove_abandoned_temporaries();

}  // namespace shoal::segment
