// Copyright kabar authors.
// What the harness measures about processes, read from the kernel: CPU time
// (getrusage for this process, /proc/PID/stat for a child), peak and
// current resident memory (/proc/PID/status VmHWM and VmRSS), and a
// description of the machine (/proc/cpuinfo, /proc/loadavg). Linux only.
// All functions are thread-safe.
#ifndef KABAR_BENCH_PROCESS_STATS_H_
#define KABAR_BENCH_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace kabar::bench {

// User + system CPU seconds of this process, all threads, so far.
double SelfCpuSeconds();

// User + system CPU seconds of process `pid` so far (its own threads, not
// its children), or -1 when it cannot be read.
double ProcessCpuSeconds(pid_t pid);

// Peak resident set (VmHWM) of `pid` (0: this process) in bytes, or -1.
int64_t PeakRssBytes(pid_t pid = 0);

// Current resident set (VmRSS) of `pid` (0: this process) in bytes, or -1.
int64_t RssBytes(pid_t pid = 0);

// "AMD EPYC 7B13, 2 logical CPUs": the first CPU model name and the count.
std::string MachineDescription();

// The 1-, 5- and 15-minute load averages, as /proc/loadavg has them.
std::string LoadAverage();

}  // namespace kabar::bench

#endif  // KABAR_BENCH_PROCESS_STATS_H_
