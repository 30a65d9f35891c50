// channel_after_fork.cpp — see channel_after_fork.hpp.
#include "channel_after_fork.hpp"

#include <memory>
#include <string>
#include <utility>

#include "errors.hpp"
#include "gil.hpp"
#include "session_lookup.hpp"

namespace shoal_py {

int reopen_here(PyObject* self) {
  ChannelFields& fields = as_channel(self)->fields;
  const std::string name = fields.session->arena().name();
  const shoal::Handle handle = fields.channel->handle();
  try {
    std::shared_ptr<ArenaSession> session = session_for(state_of_type(Py_TYPE(self)), name);
    Owned<shoal::Channel> reopened{without_gil([&] { return shoal::Channel::open(session->holder(), handle); })};
    // An end stays one: our own reference to the same end.
    OwnedBlock end;
    if (fields.end) {
      const shoal::Handle end_handle = fields.end->handle();  // with the GIL: close() may empty it
      end = OwnedBlock{without_gil([&] { return session->holder().retain(end_handle); })};
    }
    // The parent's objects do nothing in a fork child (holder.hpp): dropping them is safe.
    fields.channel = std::move(reopened);
    fields.end = std::move(end);
    fields.session = std::move(session);
    return 0;
  } catch (...) {
    raise_python_error(state_of_type(Py_TYPE(self)));
    return -1;
  }
}

}  // namespace shoal_py
