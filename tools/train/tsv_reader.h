// Copyright kabar authors.
// A small RFC 4180 reader and writer for tab-separated files, as
// MasakhaNEWS and SIB-200 ship them: a field that starts with '"' is quoted,
// may contain tabs and line breaks, and writes a literal quote as '""'.
// Records end in "\n" or "\r\n". Used by kabar-train's dataset loading and
// by its `split` command. Not thread-safe; use one reader per thread.
#ifndef KABAR_TOOLS_TRAIN_TSV_READER_H_
#define KABAR_TOOLS_TRAIN_TSV_READER_H_

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kabar::train {

// One parsed file: the header row and every data row. `line_numbers[i]` is
// the 1-based line on which rows[i] starts, for error messages.
struct TsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> line_numbers;

  // Index of `column` in the header, or -1.
  int ColumnIndex(absl::string_view column) const;
};

// Reads records one at a time from a stream the caller owns.
class TsvReader final {
 public:
  // `source_name` prefixes error messages ("data.tsv:12: ...").
  TsvReader(std::istream* in, std::string source_name);

  TsvReader(const TsvReader&) = delete;
  TsvReader& operator=(const TsvReader&) = delete;

  // Reads the next record into *fields. Returns true on success, false at
  // the end of the input (fields cleared), and INVALID_ARGUMENT naming the
  // line for a quote left open at the end of the input or a character
  // between a closing quote and the next tab or line break.
  absl::StatusOr<bool> Next(std::vector<std::string>* fields);

  // The 1-based line on which the record last returned by Next() starts.
  int64_t record_line() const { return record_line_; }

 private:
  std::istream* const in_;
  const std::string source_name_;
  int64_t line_ = 1;
  int64_t record_line_ = 0;
};

// Parses a whole table. The first record is the header. Every row must have
// exactly as many fields as the header (a trailing empty line is ignored);
// otherwise INVALID_ARGUMENT naming the line and both counts.
absl::StatusOr<TsvTable> ParseTsv(std::istream* in,
                                  const std::string& source_name);

// ParseTsv on a file. NOT_FOUND when it cannot be opened.
absl::StatusOr<TsvTable> ReadTsvFile(const std::string& path);

// Writes one record, quoting the fields that need it (those containing a
// tab, a quote, '\r' or '\n'), so ParseTsv reads back exactly `fields`.
void WriteTsvRecord(const std::vector<std::string>& fields, std::ostream* out);

}  // namespace kabar::train

#endif  // KABAR_TOOLS_TRAIN_TSV_READER_H_
