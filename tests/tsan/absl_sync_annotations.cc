// Copyright kabar authors.
// ThreadSanitizer annotations for Debian's Abseil, preloaded into the
// processes of the ThreadSanitizer run (scripts/tsan.sh; LD_PRELOAD).
//
// Debian's libabsl is not built with -fsanitize=thread, so absl::Mutex,
// which kabar (and gRPC) lock everywhere, spins and futex-waits where TSan
// cannot see it: every access it guards would be reported as a race. This
// library defines absl::Mutex's and absl::CondVar's out-of-line members
// itself. The dynamic linker binds every call to them, from kabar, gRPC
// and Abseil's own Notification and BlockingCounter alike, to these
// definitions, which tell TSan what the mutex does (the same
// __tsan_mutex_* calls an instrumented Abseil makes) around a call to the
// real member in libabsl_synchronization. Mutual exclusion itself is still
// Abseil's; only TSan's view is added.
//
// Limits: synchronization inside uninstrumented libraries that does not go
// through absl::Mutex (gRPC's lock-free queues, atomics) stays invisible;
// scripts/tsan-suppressions.txt lists what that has been seen to cause.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// TSan's annotation interface (compiler-rt's tsan_interface.h), weak so
// that a process without TSan that inherits LD_PRELOAD still runs.
extern "C" {
void __tsan_mutex_pre_lock(void* addr, unsigned flags) __attribute__((weak));
int __tsan_mutex_post_lock(void* addr, unsigned flags, int recursion) __attribute__((weak));
int __tsan_mutex_pre_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_unlock(void* addr, unsigned flags) __attribute__((weak));
}

namespace {

constexpr unsigned kReadLock = 1 << 3;       // __tsan_mutex_read_lock
constexpr unsigned kTryLock = 1 << 4;        // __tsan_mutex_try_lock
constexpr unsigned kTryLockFailed = 1 << 5;  // __tsan_mutex_try_lock_failed

bool Annotating() { return __tsan_mutex_pre_lock != nullptr; }

void PreLock(const void* mu, unsigned flags) {
  if (Annotating()) __tsan_mutex_pre_lock(const_cast<void*>(mu), flags);
}
void PostLock(const void* mu, unsigned flags) {
  if (Annotating()) __tsan_mutex_post_lock(const_cast<void*>(mu), flags, 0);
}
void PreUnlock(const void* mu, unsigned flags) {
  if (Annotating()) __tsan_mutex_pre_unlock(const_cast<void*>(mu), flags);
}
void PostUnlock(const void* mu, unsigned flags) {
  if (Annotating()) __tsan_mutex_post_unlock(const_cast<void*>(mu), flags);
}

#define KABAR_STRINGIFY_INNER(x) #x
#define KABAR_STRINGIFY(x) KABAR_STRINGIFY_INNER(x)

// The real member: `mangled` is its Itanium-mangled name after
// "_ZN4absl<inline namespace>", e.g. "5Mutex4LockEv".
template <typename Function>
Function Real(const char* mangled) {
  const std::string ns = KABAR_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns + mangled;
  void* symbol = dlsym(RTLD_NEXT, name.c_str());
  if (symbol == nullptr) {
    std::fprintf(stderr, "absl_sync_annotations: %s not found: %s\n", name.c_str(), dlerror());
    std::abort();
  }
  return reinterpret_cast<Function>(symbol);
}

#define KABAR_REAL(type, mangled)                        \
  static const auto real = Real<type>(mangled);          \
  (void)0

using Void = void (*)(const void*);
using Bool = bool (*)(const void*);
using VoidCondition = void (*)(const void*, const absl::Condition&);
using BoolCondition = bool (*)(const void*, const absl::Condition&);
using BoolConditionDuration = bool (*)(const void*, const absl::Condition&, absl::Duration);
using BoolConditionTime = bool (*)(const void*, const absl::Condition&, absl::Time);
using VoidMutex = void (*)(const void*, absl::Mutex*);
using BoolMutexDuration = bool (*)(const void*, absl::Mutex*, absl::Duration);
using BoolMutexTime = bool (*)(const void*, absl::Mutex*, absl::Time);

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  KABAR_REAL(Void, "5Mutex4LockEv");
  PreLock(this, 0);
  real(this);
  PostLock(this, 0);
}

void Mutex::Unlock() {
  KABAR_REAL(Void, "5Mutex6UnlockEv");
  PreUnlock(this, 0);
  real(this);
  PostUnlock(this, 0);
}

bool Mutex::TryLock() {
  KABAR_REAL(Bool, "5Mutex7TryLockEv");
  PreLock(this, kTryLock);
  const bool locked = real(this);
  PostLock(this, kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}

void Mutex::ReaderLock() {
  KABAR_REAL(Void, "5Mutex10ReaderLockEv");
  PreLock(this, kReadLock);
  real(this);
  PostLock(this, kReadLock);
}

void Mutex::ReaderUnlock() {
  KABAR_REAL(Void, "5Mutex12ReaderUnlockEv");
  PreUnlock(this, kReadLock);
  real(this);
  PostUnlock(this, kReadLock);
}

bool Mutex::ReaderTryLock() {
  KABAR_REAL(Bool, "5Mutex13ReaderTryLockEv");
  PreLock(this, kReadLock | kTryLock);
  const bool locked = real(this);
  PostLock(this, kReadLock | kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}

// LockWhen* return with the mutex held whatever their result.
void Mutex::LockWhen(const Condition& cond) {
  KABAR_REAL(VoidCondition, "5Mutex8LockWhenERKNS0_9ConditionE");
  PreLock(this, 0);
  real(this, cond);
  PostLock(this, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  KABAR_REAL(BoolConditionDuration,
             "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  PreLock(this, 0);
  const bool result = real(this, cond, timeout);
  PostLock(this, 0);
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  KABAR_REAL(BoolConditionTime, "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  PreLock(this, 0);
  const bool result = real(this, cond, deadline);
  PostLock(this, 0);
  return result;
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  KABAR_REAL(VoidCondition, "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  PreLock(this, kReadLock);
  real(this, cond);
  PostLock(this, kReadLock);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  KABAR_REAL(BoolConditionDuration,
             "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  PreLock(this, kReadLock);
  const bool result = real(this, cond, timeout);
  PostLock(this, kReadLock);
  return result;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  KABAR_REAL(BoolConditionTime,
             "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  PreLock(this, kReadLock);
  const bool result = real(this, cond, deadline);
  PostLock(this, kReadLock);
  return result;
}

// Await* release the mutex while waiting and hold it again on return. (As
// in Abseil's own annotations, the writer mode is assumed.)
void Mutex::Await(const Condition& cond) {
  KABAR_REAL(VoidCondition, "5Mutex5AwaitERKNS0_9ConditionE");
  PreUnlock(this, 0);
  PostUnlock(this, 0);
  real(this, cond);
  PreLock(this, 0);
  PostLock(this, 0);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  KABAR_REAL(BoolConditionDuration, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  PreUnlock(this, 0);
  PostUnlock(this, 0);
  const bool result = real(this, cond, timeout);
  PreLock(this, 0);
  PostLock(this, 0);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  KABAR_REAL(BoolConditionTime, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  PreUnlock(this, 0);
  PostUnlock(this, 0);
  const bool result = real(this, cond, deadline);
  PreLock(this, 0);
  PostLock(this, 0);
  return result;
}

// CondVar::Wait* release `mu` while waiting and hold it again on return.
void CondVar::Wait(Mutex* mu) {
  KABAR_REAL(VoidMutex, "7CondVar4WaitEPNS0_5MutexE");
  PreUnlock(mu, 0);
  PostUnlock(mu, 0);
  real(this, mu);
  PreLock(mu, 0);
  PostLock(mu, 0);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  KABAR_REAL(BoolMutexDuration, "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  PreUnlock(mu, 0);
  PostUnlock(mu, 0);
  const bool result = real(this, mu, timeout);
  PreLock(mu, 0);
  PostLock(mu, 0);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  KABAR_REAL(BoolMutexTime, "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  PreUnlock(mu, 0);
  PostUnlock(mu, 0);
  const bool result = real(this, mu, deadline);
  PreLock(mu, 0);
  PostLock(mu, 0);
  return result;
}

ABSL_NAMESPACE_END
}  // namespace absl
