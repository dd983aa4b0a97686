// Copyright kabar authors.
// Early-return helpers for absl::Status code. Abseil 20220623 has no public
// RETURN_IF_ERROR; these two are the only macros kabar defines.
#ifndef KABAR_SERVICES_COMMON_STATUS_MACROS_H_
#define KABAR_SERVICES_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KABAR_STATUS_CONCAT_INNER_(a, b) a##b
#define KABAR_STATUS_CONCAT_(a, b) KABAR_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define KABAR_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    const ::absl::Status kabar_status_ = (expr);     \
    if (!kabar_status_.ok()) return kabar_status_;   \
  } while (0)

// `lhs = value of expr`, or returns its status when `expr` is not OK.
#define KABAR_ASSIGN_OR_RETURN(lhs, expr) \
  KABAR_ASSIGN_OR_RETURN_IMPL_(KABAR_STATUS_CONCAT_(kabar_or_, __LINE__), lhs, expr)

#define KABAR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return statusor.status();           \
  lhs = std::move(statusor).value()

#endif  // KABAR_SERVICES_COMMON_STATUS_MACROS_H_
