// The convpt command-line tool. All behaviour lives in lib/cli; this file only hands over argv.
#include "cli/cli.h"

int main(int argc, char** argv) { return convpt::cli::run(argc, argv); }
