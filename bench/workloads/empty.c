/* Start-up and exit only: what it costs to get a kernel running and stopped. */
#include "bench.h"

void bench_run(void)
{
    bench_checksum(0);
}
