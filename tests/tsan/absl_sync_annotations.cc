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

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

// TSan's annotation interface (compiler-rt's tsan_interface.h), weak so
// that a process without TSan that inherits LD_PRELOAD still runs.
extern "C" {
void __tsan_mutex_pre_lock(void* addr, unsigned flags) __attribute__((weak));
int __tsan_mutex_post_lock(void* addr, unsigned flags, int recursion) __attribute__((weak));
int __tsan_mutex_pre_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_acquire(void* addr) __attribute__((weak));
void __tsan_release(void* addr) __attribute__((weak));
void AnnotateIgnoreReadsBegin(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreReadsEnd(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreWritesBegin(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreWritesEnd(const char* file, int line) __attribute__((weak));
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
// Happens-before edges for the atomics inside BlockingCounter and
// Notification, whose fast paths never touch a mutex.
void Release(const void* addr) {
  if (__tsan_release != nullptr) __tsan_release(const_cast<void*>(addr));
}
void Acquire(const void* addr) {
  if (__tsan_acquire != nullptr) __tsan_acquire(const_cast<void*>(addr));
}

// Abseil's members call one another through the dynamic linker, so through
// the definitions here too (WaitWithTimeout calls WaitWithDeadline, Await
// may take the lock again, ...). Only the outermost call on a thread tells
// TSan anything; the nested ones are part of the same operation.
thread_local int nesting = 0;

// While Abseil's own code runs, TSan does not watch memory accesses. Abseil
// evaluates a waiter's Condition (kabar code, instrumented) inside Await,
// LockWhen and Unlock, on the waiter's thread or on the unlocking one, at
// points these annotations cannot describe; Abseil's own TSan build
// ignores those evaluations too (EvalConditionIgnored in mutex.cc).
class IgnoredAccesses {
 public:
  IgnoredAccesses() {
    if (AnnotateIgnoreReadsBegin == nullptr) return;
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~IgnoredAccesses() {
    if (AnnotateIgnoreReadsEnd == nullptr) return;
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
  IgnoredAccesses(const IgnoredAccesses&) = delete;
  IgnoredAccesses& operator=(const IgnoredAccesses&) = delete;
};

class Call {
 public:
  Call() : outermost_(nesting++ == 0) {}
  ~Call() { --nesting; }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Calls Abseil's member, see IgnoredAccesses.
  template <typename Function>
  auto Real(Function function) const -> decltype(function()) {
    const IgnoredAccesses ignored;
    return function();
  }

  void PreLock(const void* mu, unsigned flags) const {
    if (outermost_) ::PreLock(mu, flags);
  }
  void PostLock(const void* mu, unsigned flags) const {
    if (outermost_) ::PostLock(mu, flags);
  }
  void PreUnlock(const void* mu, unsigned flags) const {
    if (outermost_) ::PreUnlock(mu, flags);
  }
  void PostUnlock(const void* mu, unsigned flags) const {
    if (outermost_) ::PostUnlock(mu, flags);
  }

 private:
  const bool outermost_;
};

#define KABAR_STRINGIFY_INNER(x) #x
#define KABAR_STRINGIFY(x) KABAR_STRINGIFY_INNER(x)

// The real member: `mangled` is its Itanium-mangled name after
// "_ZN4absl<inline namespace>", e.g. "5Mutex4LockEv".
template <typename Function>
Function Real(const char* mangled) {
  const std::string ns = KABAR_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  // A const member's name starts "_ZNK": pass its suffix with a leading "K".
  const bool is_const = mangled[0] == 'K';
  const std::string name = std::string(is_const ? "_ZNK" : "_ZN") + "4absl" +
                           std::to_string(ns.size()) + ns + (mangled + (is_const ? 1 : 0));
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
using BoolDuration = bool (*)(const void*, absl::Duration);
using BoolTime = bool (*)(const void*, absl::Time);
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
  const Call call;
  call.PreLock(this, 0);
  call.Real([&] { real(this); });
  call.PostLock(this, 0);
}

void Mutex::Unlock() {
  KABAR_REAL(Void, "5Mutex6UnlockEv");
  const Call call;
  call.PreUnlock(this, 0);
  call.Real([&] { real(this); });
  call.PostUnlock(this, 0);
}

bool Mutex::TryLock() {
  KABAR_REAL(Bool, "5Mutex7TryLockEv");
  const Call call;
  call.PreLock(this, kTryLock);
  const bool locked = call.Real([&] { return real(this); });
  call.PostLock(this, kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}

void Mutex::ReaderLock() {
  KABAR_REAL(Void, "5Mutex10ReaderLockEv");
  const Call call;
  call.PreLock(this, kReadLock);
  call.Real([&] { real(this); });
  call.PostLock(this, kReadLock);
}

void Mutex::ReaderUnlock() {
  KABAR_REAL(Void, "5Mutex12ReaderUnlockEv");
  const Call call;
  call.PreUnlock(this, kReadLock);
  call.Real([&] { real(this); });
  call.PostUnlock(this, kReadLock);
}

bool Mutex::ReaderTryLock() {
  KABAR_REAL(Bool, "5Mutex13ReaderTryLockEv");
  const Call call;
  call.PreLock(this, kReadLock | kTryLock);
  const bool locked = call.Real([&] { return real(this); });
  call.PostLock(this, kReadLock | kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}

// LockWhen* return with the mutex held whatever their result.
void Mutex::LockWhen(const Condition& cond) {
  KABAR_REAL(VoidCondition, "5Mutex8LockWhenERKNS0_9ConditionE");
  const Call call;
  call.PreLock(this, 0);
  call.Real([&] { real(this, cond); });
  call.PostLock(this, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  KABAR_REAL(BoolConditionDuration,
             "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const Call call;
  call.PreLock(this, 0);
  const bool result = call.Real([&] { return real(this, cond, timeout); });
  call.PostLock(this, 0);
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  KABAR_REAL(BoolConditionTime, "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const Call call;
  call.PreLock(this, 0);
  const bool result = call.Real([&] { return real(this, cond, deadline); });
  call.PostLock(this, 0);
  return result;
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  KABAR_REAL(VoidCondition, "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  const Call call;
  call.PreLock(this, kReadLock);
  call.Real([&] { real(this, cond); });
  call.PostLock(this, kReadLock);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  KABAR_REAL(BoolConditionDuration,
             "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const Call call;
  call.PreLock(this, kReadLock);
  const bool result = call.Real([&] { return real(this, cond, timeout); });
  call.PostLock(this, kReadLock);
  return result;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  KABAR_REAL(BoolConditionTime,
             "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const Call call;
  call.PreLock(this, kReadLock);
  const bool result = call.Real([&] { return real(this, cond, deadline); });
  call.PostLock(this, kReadLock);
  return result;
}

// Await* release the mutex while waiting and hold it again on return. (As
// in Abseil's own annotations, the writer mode is assumed.)
void Mutex::Await(const Condition& cond) {
  KABAR_REAL(VoidCondition, "5Mutex5AwaitERKNS0_9ConditionE");
  const Call call;
  call.PreUnlock(this, 0);
  call.PostUnlock(this, 0);
  call.Real([&] { real(this, cond); });
  call.PreLock(this, 0);
  call.PostLock(this, 0);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  KABAR_REAL(BoolConditionDuration, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const Call call;
  call.PreUnlock(this, 0);
  call.PostUnlock(this, 0);
  const bool result = call.Real([&] { return real(this, cond, timeout); });
  call.PreLock(this, 0);
  call.PostLock(this, 0);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  KABAR_REAL(BoolConditionTime, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const Call call;
  call.PreUnlock(this, 0);
  call.PostUnlock(this, 0);
  const bool result = call.Real([&] { return real(this, cond, deadline); });
  call.PreLock(this, 0);
  call.PostLock(this, 0);
  return result;
}

// CondVar::Wait* release `mu` while waiting and hold it again on return.
void CondVar::Wait(Mutex* mu) {
  KABAR_REAL(VoidMutex, "7CondVar4WaitEPNS0_5MutexE");
  const Call call;
  call.PreUnlock(mu, 0);
  call.PostUnlock(mu, 0);
  call.Real([&] { real(this, mu); });
  call.PreLock(mu, 0);
  call.PostLock(mu, 0);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  KABAR_REAL(BoolMutexDuration, "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  const Call call;
  call.PreUnlock(mu, 0);
  call.PostUnlock(mu, 0);
  const bool result = call.Real([&] { return real(this, mu, timeout); });
  call.PreLock(mu, 0);
  call.PostLock(mu, 0);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  KABAR_REAL(BoolMutexTime, "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  const Call call;
  call.PreUnlock(mu, 0);
  call.PostUnlock(mu, 0);
  const bool result = call.Real([&] { return real(this, mu, deadline); });
  call.PreLock(mu, 0);
  call.PostLock(mu, 0);
  return result;
}

// Each DecrementCount happens before Wait returns; Notify before every
// waiter returns, or sees HasBeenNotified() (inline: annotated on the
// waiting side only when it goes through the calls below).
bool BlockingCounter::DecrementCount() {
  KABAR_REAL(Bool, "15BlockingCounter14DecrementCountEv");
  Release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  KABAR_REAL(Void, "15BlockingCounter4WaitEv");
  real(this);
  Acquire(this);
}

void Notification::Notify() {
  KABAR_REAL(Void, "12Notification6NotifyEv");
  Release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  KABAR_REAL(Void, "K12Notification19WaitForNotificationEv");
  real(this);
  Acquire(this);
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  KABAR_REAL(BoolDuration, "K12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) Acquire(this);
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  KABAR_REAL(BoolTime, "K12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) Acquire(this);
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
