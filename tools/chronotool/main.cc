#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "service/os.h"
#include "tools/chronotool/commands.h"

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args = cg::os::ProgramArguments(argc, argv);
    std::vector<char*> utf8_argv;
    for (auto& a : args) utf8_argv.push_back(a.data());
    return cg::tool::Main(static_cast<int>(utf8_argv.size()), utf8_argv.data(), std::cout,
                          std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "chronotool: internal error: " << e.what() << "\n";
    return cg::tool::kExitProblem;
  }
}
