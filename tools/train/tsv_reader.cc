// Copyright kabar authors.
#include "tools/train/tsv_reader.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kabar::train {

int TsvTable::ColumnIndex(absl::string_view column) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == column) return static_cast<int>(i);
  }
  return -1;
}

TsvReader::TsvReader(std::istream* in, std::string source_name)
    : in_(in), source_name_(std::move(source_name)) {}

absl::StatusOr<bool> TsvReader::Next(std::vector<std::string>* fields) {
  fields->clear();
  record_line_ = line_;
  std::streambuf* buf = in_->rdbuf();
  constexpr int kEof = std::char_traits<char>::eof();
  if (buf->sgetc() == kEof) return false;

  std::string field;
  // Consumes "\n" or "\r\n" at the current position; true if it did.
  const auto consume_line_break = [&]() {
    int c = buf->sgetc();
    if (c == '\r' && buf->snextc() == '\n') {
      buf->sbumpc();
      ++line_;
      return true;
    }
    if (c == '\n') {
      buf->sbumpc();
      ++line_;
      return true;
    }
    return false;
  };
  while (true) {
    field.clear();
    int c = buf->sgetc();
    if (c == '"') {
      // Quoted field: runs to the next quote not followed by a quote.
      buf->sbumpc();
      const int64_t opened_on = line_;
      while (true) {
        c = buf->sbumpc();
        if (c == kEof) {
          return absl::InvalidArgumentError(
              absl::StrCat(source_name_, ":", opened_on,
                           ": quoted field is not closed before the end of "
                           "the file"));
        }
        if (c == '"') {
          if (buf->sgetc() == '"') {
            buf->sbumpc();
            field.push_back('"');
            continue;
          }
          break;
        }
        if (c == '\n') ++line_;
        field.push_back(static_cast<char>(c));
      }
      c = buf->sgetc();
      if (c != '\t' && c != '\n' && c != '\r' && c != kEof) {
        return absl::InvalidArgumentError(absl::StrCat(
            source_name_, ":", line_,
            ": unexpected character after a closing quote (write a literal "
            "quote inside a quoted field as \"\")"));
      }
    } else {
      // Unquoted field: runs to the next tab or line break. A "\r" not
      // followed by "\n" is kept.
      while (true) {
        c = buf->sgetc();
        if (c == kEof || c == '\t' || c == '\n') break;
        if (c == '\r') {
          // Peek past the '\r' without consuming it unless it is data.
          buf->sbumpc();
          if (buf->sgetc() == '\n') {
            buf->sungetc();
            break;
          }
          field.push_back('\r');
          continue;
        }
        field.push_back(static_cast<char>(buf->sbumpc()));
      }
    }
    fields->push_back(std::move(field));
    c = buf->sgetc();
    if (c == '\t') {
      buf->sbumpc();
      continue;
    }
    if (c == kEof || consume_line_break()) return true;
    // A lone "\r" after a quoted field.
    buf->sbumpc();
    return absl::InvalidArgumentError(
        absl::StrCat(source_name_, ":", line_,
                     ": unexpected carriage return after a field"));
  }
}

absl::StatusOr<TsvTable> ParseTsv(std::istream* in,
                                  const std::string& source_name) {
  TsvReader reader(in, source_name);
  TsvTable table;
  absl::StatusOr<bool> more = reader.Next(&table.header);
  if (!more.ok()) return more.status();
  if (!*more || (table.header.size() == 1 && table.header[0].empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": empty file, expected a header row"));
  }
  std::vector<std::string> fields;
  while (true) {
    more = reader.Next(&fields);
    if (!more.ok()) return more.status();
    if (!*more) break;
    // An empty line (typically the last) carries no record.
    if (fields.size() == 1 && fields[0].empty()) continue;
    if (fields.size() != table.header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ":", reader.record_line(), ": expected ",
          table.header.size(), " tab-separated fields as in the header, got ",
          fields.size()));
    }
    table.line_numbers.push_back(reader.record_line());
    table.rows.push_back(std::move(fields));
    fields = {};
  }
  return table;
}

absl::StatusOr<TsvTable> ReadTsvFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  return ParseTsv(&in, path);
}

void WriteTsvRecord(const std::vector<std::string>& fields, std::ostream* out) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out->put('\t');
    const std::string& field = fields[i];
    if (field.find_first_of("\t\"\r\n") == std::string::npos) {
      *out << field;
      continue;
    }
    out->put('"');
    for (char c : field) {
      if (c == '"') out->put('"');
      out->put(c);
    }
    out->put('"');
  }
  out->put('\n');
}

}  // namespace kabar::train
