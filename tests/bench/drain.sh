#!/bin/bash
# drain.sh LABEL N [PROBE]: on a deployed host (as root), queue N tasks_push.task1
# jobs on the regular queue task1, wait until all reach success, and print jobs/s
# and the CPU seconds of mrq-worker@task1 and mongod (utime+stime of each unit's
# main process and its children, from /proc). PROBE: molecule/resources/files/
# mrq_probe.py copied to the host (default /tmp/mrq_probe.py). A benchmark: it
# prints numbers. With the TEST STAND-IN as mongod, jobs/s is the stand-in's bound.
set -eu
label=$1
n=$2
probe=${3:-/tmp/mrq_probe.py}
cpu() {
  local main
  main=$(systemctl show -p MainPID --value "$1")
  for p in $main $(pgrep -P "$main" || true); do awk '{print $14 + $15}' "/proc/$p/stat"; done |
    awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {print s / hz}'
}
as_mrq=(runuser -u mrq -- /opt/mrq/venv/bin/python "$probe")
w0=$(cpu mrq-worker@task1)
m0=$(cpu mongod)
t0=$(date +%s.%N)
"${as_mrq[@]}" queue tasks_push.task1 "$n" --queue task1 --ids "/tmp/ids-$label.json" > /dev/null
"${as_mrq[@]}" batch "/tmp/ids-$label.json" success --timeout 600 > /dev/null
t1=$(date +%s.%N)
w1=$(cpu mrq-worker@task1)
m1=$(cpu mongod)
python3 -c "
n, s, w, m = $n, $t1 - $t0, $w1 - $w0, $m1 - $m0
print(f'$label: {n} jobs in {s:.1f} s = {n / s:.1f} jobs/s; worker CPU {w:.2f} s ({w / n * 1e3:.2f} ms/job);'
      f' mongod CPU {m:.1f} s')"
