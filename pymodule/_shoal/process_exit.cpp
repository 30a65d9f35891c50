// process_exit.cpp — see process_exit.hpp.
//
// Process-wide state, on purpose: the switches concern every thread of
// every interpreter. Plain atomics, no Python objects.
#include "process_exit.hpp"

#include <pythread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace shoal_py {
namespace {

// How long closing the gate waits for threads already on their way to a
// GIL. They get it within a GIL switch interval unless it is held by code
// that never lets go (a Task stuck in a loop); then we go on without them.
constexpr auto kGateDrain = std::chrono::seconds(2);

std::atomic<bool> g_exiting{false};
std::atomic<bool> g_gate_closed{false};
std::atomic<int> g_on_the_way{0};                // threads past the gate, taking a GIL
std::atomic<unsigned long> g_exiting_thread{0};  // the one that closed the gate
std::atomic<unsigned long> g_main_thread{0};

bool runtime_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// May this thread take a GIL now? Not once the gate is closed, unless it
// is the exiting thread. If the gate was never closed (shoal's exit hook
// did not run: atexit was cleared) but the runtime finalises anyway, only
// the main thread, which finalises in every ordinary program, may.
bool may_take_gil(unsigned long me) {
  if (g_gate_closed.load()) return me == g_exiting_thread.load();
  if (!runtime_finalizing()) return true;
  const unsigned long main = g_main_thread.load();
  return main == 0 || me == main;
}

[[noreturn]] void park_for_good() {
  for (;;) pause();  // the process is ending: exit() takes this thread with it
}

}  // namespace

bool process_exiting() { return g_exiting.load(std::memory_order_relaxed); }

void begin_process_exit() { g_exiting.store(true); }

void take_gil_back(PyThreadState* tstate) {
  const unsigned long me = PyThread_get_thread_ident();
  // Announce, then look (both sequentially consistent): either
  // close_gil_gate sees us on the way and waits, or we see the gate closed.
  g_on_the_way.fetch_add(1);
  if (!may_take_gil(me)) {
    g_on_the_way.fetch_sub(1);
    park_for_good();
  }
  PyEval_RestoreThread(tstate);
  g_on_the_way.fetch_sub(1);
}

void close_gil_gate() {
  g_exiting_thread.store(PyThread_get_thread_ident());
  g_gate_closed.store(true);
  if (g_on_the_way.load() == 0) return;
  PyThreadState* mine = PyEval_SaveThread();  // they may be waiting for this very GIL
  const auto deadline = std::chrono::steady_clock::now() + kGateDrain;
  while (g_on_the_way.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  PyEval_RestoreThread(mine);  // the exiting thread: never parked
}

void note_main_thread(unsigned long ident) { g_main_thread.store(ident); }

bool handles_signals() {
  return PyThread_get_thread_ident() == g_main_thread.load(std::memory_order_relaxed) &&
         PyInterpreterState_Get() == PyInterpreterState_Main();
}

}  // namespace shoal_py
