// tz_driver.cpp: runs the EA's offset table (TzTable.mqh, compiled unchanged) for
// tests/test_mql5_tz.py. Commands on stdin, one per line, one answer line each:
//
//   observe UTC_MS RAW_DIFF_S   a sample of TimeTradeServer() - TimeGMT()  -> "changed 0|1"
//   table                       -> "table N from0 offset0 from1 offset1 ..."
//   offset UTC_MS               -> the offset in force (s)
//   since UTC_MS                -> when it took effect (ms UTC)
//   server UTC_MS               -> server wall-clock ms
//   first SERVER_MS             -> UtcMsFirst (a bar's open)
//   latest SERVER_MS            -> UtcMsLatest (ticks, deals)
//   rounded RAW_DIFF_S          -> CTzTable::Rounded
//   switch AFTER_MS AT_MS       -> CTzTable::SwitchTime
#include <iostream>
#include <sstream>
#include <string>

#include "mql5_compat.h"
#include "../../mql5/Include/ExecutorBridge/TzTable.mqh"

int main() {
  CTzTable table;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command;
    long a = 0, b = 0;
    in >> command >> a >> b;
    if (command == "observe") {
      std::cout << "changed " << (table.Observe(a, b) ? 1 : 0) << "\n";
    } else if (command == "table") {
      std::cout << "table " << table.Count();
      for (int i = 0; i < table.Count(); i++) std::cout << " " << table.From(i) << " " << table.Offset(i);
      std::cout << "\n";
    } else if (command == "offset") {
      std::cout << table.OffsetAt(a) << "\n";
    } else if (command == "since") {
      std::cout << table.Since(a) << "\n";
    } else if (command == "server") {
      std::cout << table.ServerMs(a) << "\n";
    } else if (command == "first") {
      std::cout << table.UtcMsFirst(a) << "\n";
    } else if (command == "latest") {
      std::cout << table.UtcMsLatest(a) << "\n";
    } else if (command == "rounded") {
      std::cout << CTzTable::Rounded(a) << "\n";
    } else if (command == "switch") {
      std::cout << CTzTable::SwitchTime(a, b) << "\n";
    } else {
      std::cerr << "unknown command: " << line << "\n";
      return 2;
    }
  }
  return 0;
}
