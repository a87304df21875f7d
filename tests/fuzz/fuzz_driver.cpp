// A driver for g++ builds (no libFuzzer): feeds the target a fixed seed
// corpus and a bounded, deterministic stream of mutations of it, so the
// fuzz target runs in every CI build, under ASan/UBSan and TSan too.
// With clang, build the same target with -fsanitize=fuzzer instead
// (cmake -DP9AUTH_LIBFUZZER=ON) for open-ended fuzzing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    const long rounds = argc > 1 ? std::atol(argv[1]) : 200000;
    const std::vector<std::string> seeds = {
        "2001@2002@abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG",
        "2001@2002:2002@abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG\n",
        "2001@2002:2002:3001,3002,0@abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG",
        "0@0:0:0@kkkkkkkkkkkkkkkkkkkkkk",
        "4294967294@4294967294:4294967294:4294967294@kkkkkkkkkkkkkkkkkkkkkkkkkkkk",
        "",
        "@@",
        "1@2:3:4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20@k!\"#$%&'()*+,-./:;<=>?[\\]^_`{|}~",
    };
    const std::string alphabet = "0123456789@:,\n \t-+xK_\xff";
    std::mt19937_64 rng(20261122);
    long runs = 0;
    for (const auto& s : seeds) {
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
        ++runs;
    }
    for (long i = 0; i < rounds; ++i) {
        std::string s = seeds[rng() % seeds.size()];
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const std::size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
            switch (rng() % 4) {
                case 0: s.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
                case 1:
                    if (pos < s.size()) s.erase(pos, 1);
                    break;
                case 2:
                    if (pos < s.size()) s[pos] = static_cast<char>(rng() & 0xff);
                    break;
                case 3: s.insert(pos, s.substr(0, rng() % (s.size() + 1))); break;
            }
        }
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
        ++runs;
    }
    std::printf("fuzz: %ld inputs, no crash, no accepted non-canonical text, table unchanged\n", runs);
    return 0;
}
