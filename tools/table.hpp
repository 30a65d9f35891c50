// table.hpp — aligned text tables for human output.
//
//   Table t({{"NAME"}, {"SIZE", Align::right}});
//   t.add_row({"demo", "64.0 MiB"});
//   t.print(std::cout);
//
// Columns are separated by two spaces and padded to their widest cell;
// numbers read best right-aligned. The last column is not padded, so no
// line ends in spaces. A table whose titles are all empty prints no title
// line (a list of "field  value" pairs).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace shoal::cli {

enum class Align { left, right };

struct Column {
  std::string title;
  Align align = Align::left;
};

class Table {
 public:
  explicit Table(std::vector<Column> columns);

  // `cells` has one entry per column (missing cells print empty).
  void add_row(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out) const;

 private:
  void print_line(std::ostream& out, const std::vector<std::string>& cells,
                  const std::vector<std::size_t>& widths) const;

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace shoal::cli
