"""What /proc says about the processes under test: CPU time, resident memory, and the whole
machine's busy time. Every reader tolerates a process that exits between two reads."""

import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _children_map():
    """ppid -> [pid] for every live process."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat_fields(int(entry))
        if stat is not None:
            kids.setdefault(int(stat[1]), []).append(int(entry))
    return kids


def _stat_fields(pid):
    """Fields of /proc/PID/stat after "pid (comm) ": [0] is field 3 (state). None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def tree(*roots):
    """The given PIDs and all their live descendants (nginx master + workers, say)."""
    kids = _children_map()
    out, todo = [], [p for p in roots if p and os.path.exists(f"/proc/{p}")]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.append(pid)
            todo.extend(kids.get(pid, []))
    return out


def state(pid):
    """The process state letter (R, S, Z, ...), or None if there is no such process."""
    f = _stat_fields(pid)
    return f[0] if f else None


def cpu_seconds(pids):
    """CPU time (user + system) of the processes, all their threads, in seconds.

    Read from each process's CPU-time clock (clock_gettime on the clockid of
    clock_getcpuclockid(pid): nanoseconds, the total that /proc/PID/stat's utime + stime
    split in clock ticks), falling back to those ticks (10 ms each) where the clock
    cannot be read."""
    total = 0.0
    for pid in pids:
        try:
            # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED), as glibc's clock_getcpuclockid
            total += time.clock_gettime(((~pid) << 3) | 2)
            continue
        except OSError:
            pass
        f = _stat_fields(pid)
        if f is not None:
            total += (int(f[11]) + int(f[12])) / CLK_TCK  # fields 14 utime, 15 stime
    return total


def status_kib(pid, field):
    """A `kB` line of /proc/PID/status (VmRSS, VmHWM), or 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_kib(pids):
    """Resident memory summed over the processes (shared pages count once per process)."""
    return sum(status_kib(p, "VmRSS") for p in pids)


def hwm_kib(pids):
    """Peak resident memory (VmHWM) summed over the processes."""
    return sum(status_kib(p, "VmHWM") for p in pids)


def reset_hwm(pids):
    """Reset each process's VmHWM to its current RSS (`5` > clear_refs, Linux ≥ 4.0).
    False if any reset was refused (then VmHWM may date from start-up)."""
    ok = True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


def sys_ticks():
    """(busy, total) clock ticks of the whole machine from /proc/stat. busy = user nice system
    irq softirq steal (guest time is inside user): loopback TCP runs in softirq, mostly in the
    context of the sending process, whose utime+stime includes it."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
