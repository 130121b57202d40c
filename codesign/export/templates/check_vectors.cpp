// Bit-exact check of the firmware against the bundle's test vectors (written by codesign export).
// Reads vectors/inputs.txt (port integers, one event per line) and vectors/expected.txt (the output
// port's unsigned bit pattern), runs the HLS top function as C++ and compares every output bit.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "@HEADER@"

int main(int argc, char **argv) {
    const std::string dir = argc > 1 ? argv[1] : "vectors";
    std::ifstream fin((dir + "/inputs.txt").c_str()), fexp((dir + "/expected.txt").c_str());
    if (!fin.is_open() || !fexp.is_open()) {
        std::cerr << "cannot open " << dir << "/inputs.txt or " << dir << "/expected.txt" << std::endl;
        return 2;
    }
    std::string in_line, exp_line;
    long n = 0, differ = 0;
    while (std::getline(fin, in_line) && std::getline(fexp, exp_line)) {
        std::istringstream si(in_line), se(exp_line);
        @INPUT_T@ in[@N_IN@];
        @OUTPUT_T@ out[@N_OUT@];
        for (int i = 0; i < @N_IN@; i++) {
            long long v;
            si >> v;
            in[i].range(in[i].width - 1, 0) = v;  // the port's bits: two's complement of the integer
        }
        @TOP@(in, out);
        bool same = true;
        for (int j = 0; j < @N_OUT@; j++) {
            unsigned long long e;
            se >> e;
            unsigned long long got = out[j].range(@OUT_WIDTH@ - 1, 0).to_uint64();
            if (got != e) {
                same = false;
                if (differ < 10)
                    std::cerr << "event " << n << " output " << j << ": " << got << " expected " << e << std::endl;
            }
        }
        differ += !same;
        n++;
    }
    std::cout << (n - differ) << "/" << n << " vectors bit-exact" << std::endl;
    return (differ == 0 && n > 0) ? 0 : 1;
}
