#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine (slurmctld + slurmd on localhost), for
# the test that submits the tiny workflow through workflow/profiles/slurm.
#
# Installs Debian's slurm-wlm and munge where they are missing (needs root and apt-get),
# writes /etc/slurm/slurm.conf for this host, and starts munged, slurmctld and slurmd.
# Running it again while the cluster is up changes nothing. No accounting daemon: job
# state is kept in slurmctld for MinJobAge seconds, long enough for Snakemake's executor
# to poll it with `squeue`.
#
# Partitions: "atomsight-cpu" (default) and "atomsight-gpu"; the node advertises one GPU as a plain counted
# generic resource (/dev/null as its device file), so jobs asking for --gpus=1 can be scheduled and
# tested on a machine without a GPU.
#
# Usage: tests/slurm/start-slurm.sh        (exit status 0 once `sinfo` shows the node idle)
set -euo pipefail

log() { echo "start-slurm: $*" >&2; }
stop_daemons() {
    pkill -x slurmd || true
    pkill -x slurmctld || true
    for _ in $(seq 30); do
        pgrep -x 'slurmd|slurmctld' >/dev/null || return 0
        sleep 1
    done
    log "slurmd/slurmctld did not stop"
    exit 1
}
node_ready() { timeout 5 sinfo --noheader --format=%t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "slurm-wlm and munge are not installed, and installing them needs root and apt-get"
        exit 1
    fi
    log "installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
    node_ready && { log "cluster already running"; exit 0; }
    log "starting the daemons needs root"
    exit 1
fi

host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
conf=$(mktemp)
gres=$(mktemp)
trap 'rm -f "$conf" "$gres"' EXIT
cat > "$conf" <<CONF
# Written by tests/slurm/start-slurm.sh: a one-node test cluster on $host.
ClusterName=atomsight-test
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MinJobAge=600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory_mb Gres=gpu:1 State=UNKNOWN
PartitionName=atomsight-cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=atomsight-gpu Nodes=$host MaxTime=INFINITE State=UP
CONF
cat > "$gres" <<CONF
# One GPU counted; /dev/null stands in for its device file (the test node has no GPU).
NodeName=$host Name=gpu File=/dev/null Count=1
CONF

if ! cmp -s "$conf" /etc/slurm/slurm.conf || ! cmp -s "$gres" /etc/slurm/gres.conf; then
    log "writing /etc/slurm/slurm.conf and gres.conf (restarting the daemons if they run)"
    stop_daemons
    install -m 644 "$conf" /etc/slurm/slurm.conf
    install -m 644 "$gres" /etc/slurm/gres.conf
elif node_ready; then
    log "cluster already running"
    exit 0
fi

if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --force
fi
if ! pgrep -x slurmctld >/dev/null; then
    log "starting slurmctld"
    /usr/sbin/slurmctld
fi
if ! pgrep -x slurmd >/dev/null; then
    log "starting slurmd"
    /usr/sbin/slurmd
fi

for _ in $(seq 60); do
    if node_ready; then
        log "cluster up: $(sinfo --noheader --format='%P %D %t %c CPUs %m MB' | tr '\n' ';')"
        exit 0
    fi
    # A node left drained by an earlier run (e.g. a killed slurmd) is put back in service.
    timeout 5 scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
done
log "the node did not become idle; see /var/log/slurm/slurmctld.log and slurmd.log"
sinfo >&2 || true
exit 1
