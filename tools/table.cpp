// table.cpp — see table.hpp.
#include "table.hpp"

#include <algorithm>

namespace shoal::cli {
namespace {

constexpr const char* kGap = "  ";

// Display width of UTF-8 text: counts code points, not bytes, so that a
// name with non-ASCII letters does not push its row out of line.
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  const bool titled = std::any_of(columns_.begin(), columns_.end(), [](const Column& c) { return !c.title.empty(); });
  std::vector<std::size_t> widths(columns_.size(), 0);
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    if (titled) widths[c] = display_width(columns_[c].title);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], display_width(row[c]));
  }
  if (titled) {
    std::vector<std::string> titles;
    for (const Column& c : columns_) titles.push_back(c.title);
    print_line(out, titles, widths);
  }
  for (const auto& row : rows_) print_line(out, row, widths);
}

void Table::print_line(std::ostream& out, const std::vector<std::string>& cells,
                       const std::vector<std::size_t>& widths) const {
  std::string line;
  for (std::size_t c = 0; c < cells.size(); ++c) {
    const std::string padding(widths[c] - display_width(cells[c]), ' ');
    const bool last = c + 1 == cells.size();
    if (c > 0) line += kGap;
    if (columns_[c].align == Align::right) {
      line += padding + cells[c];
    } else {
      line += cells[c];
      if (!last) line += padding;
    }
  }
  // A trailing empty left-aligned cell still leaves the gap: trim it.
  line.erase(line.find_last_not_of(' ') + 1);
  out << line << '\n';
}

}  // namespace shoal::cli
