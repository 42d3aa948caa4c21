#include <exception>
#include <iostream>

#include "tools/chronotool/commands.h"

int main(int argc, char** argv) {
  try {
    return cg::tool::Main(argc, argv, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "chronotool: internal error: " << e.what() << "\n";
    return cg::tool::kExitProblem;
  }
}
