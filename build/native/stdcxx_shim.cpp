// Provides std::ios_base_library_init() (GLIBCXX_3.4.32) for systems whose libstdc++ predates
// GCC 13 (Debian 12, Ubuntu 22.04). TorchSharp 0.107's libLibTorchSharp.so needs this one symbol.
// See build/libstdcxx.targets and docs/TORCHSHARP.md.
#include <ios>
namespace std {
void ios_base_library_init() { static ios_base::Init init; }
}
