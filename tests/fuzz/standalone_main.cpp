// Drives a libFuzzer target without libFuzzer (gcc builds, CI): runs every file given, or every
// file in every directory given, through LLVMFuzzerTestOneInput once. A crash or sanitizer
// report fails the test; the seeds are the regression suite of past and hand-made inputs.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t runs = 0;
  auto run_file = [&](const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::vector<uint8_t> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
    ++runs;
  };
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p = argv[i];
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) run_file(e.path());
      }
    } else {
      run_file(p);
    }
  }
  std::printf("%zu inputs ran\n", runs);
  return runs == 0 ? 1 : 0;
}
