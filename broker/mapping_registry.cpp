// mapping_registry.cpp — one mapping of an arena per process
// (mapping_registry.hpp says why).
#include "mapping_registry.hpp"

#include <map>
#include <mutex>
#include <tuple>
#include <utility>

namespace shoal::segment {
namespace {

using Key = std::tuple<dev_t, ino_t, bool>;

struct Registry {
  std::mutex lock;
  std::map<Key, std::weak_ptr<const Mapping>> entries;
};

// Never destroyed: an arena may be released from a static destructor or an
// atexit hook that runs after this file's statics would be gone.
Registry& registry() {
  static auto* instance = new Registry;
  return *instance;
}

// The live entry for `key` of the right size, or null. Under the lock.
std::shared_ptr<const Mapping> find_locked(Registry& r, const Key& key, std::uint64_t bytes) {
  const auto it = r.entries.find(key);
  if (it == r.entries.end()) return nullptr;
  auto mapping = it->second.lock();
  if (mapping == nullptr || mapping->bytes() != bytes) return nullptr;
  return mapping;
}

// Drops the entries whose mappings are gone, so the map stays as small as
// the set of arenas in use.
void prune_locked(Registry& r) {
  std::erase_if(r.entries, [](const auto& entry) { return entry.second.expired(); });
}

}  // namespace

std::shared_ptr<const Mapping> shared_mapping(const MappingKey& key, const std::function<Mapping()>& map) {
  Registry& r = registry();
  const Key k{key.device, key.inode, key.writable};
  {
    const std::lock_guard guard(r.lock);
    if (auto found = find_locked(r, k, key.bytes)) return found;
  }
  auto made = std::make_shared<const Mapping>(map());
  const std::lock_guard guard(r.lock);
  // Another thread may have mapped the same file meanwhile: keep one.
  if (auto found = find_locked(r, k, key.bytes)) return found;
  prune_locked(r);
  r.entries[k] = made;
  return made;
}

std::size_t live_mappings() {
  Registry& r = registry();
  const std::lock_guard guard(r.lock);
  prune_locked(r);
  return r.entries.size();
}

}  // namespace shoal::segment
