#!/usr/bin/env bash
# A one-node Slurm cluster for the tests (root only): munged, slurmctld and slurmd on this host,
# with one partition `debug`, no accounting database, and every file in a folder of your choosing.
#
#   tests/slurm/cluster.sh start DIR   install slurm-wlm and munge if missing (apt-get), write
#                                      DIR/slurm.conf, start the daemons, wait until the node is
#                                      idle; prints the two exports to use it (SLURM_CONF, PATH)
#   tests/slurm/cluster.sh stop DIR    cancel the jobs left, stop the daemons started by `start`
#                                      (by the pids in DIR), leave DIR (logs) in place
# `start` exits with status 3 where no cluster can be started (not root, or a slurmctld or
# slurmd already runs on this host), 1 when starting fails.
#
# Clients (sbatch, squeue, snakemake --executor slurm) find this cluster through SLURM_CONF.
# Also put DIR/bin first on PATH: inside each job, snakemake-executor-plugin-slurm-jobstep runs
# `srun` with every SLURM_* variable but a few removed, SLURM_CONF included (real clusters keep
# their config at /etc/slurm/slurm.conf); DIR/bin/srun puts it back, so nothing is written to /etc.
# Without slurmdbd there is no sacct: run Snakemake with `--slurm-status-command squeue`
# (MinJobAge=600 below keeps finished jobs visible to squeue for ten minutes).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
die() { echo "cluster.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || usage
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
export SLURM_CONF="$dir/slurm.conf"

# Is pid (from a pid file) alive and the program we expect?
alive() { [ -n "${1:-}" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }

stop_pid() { # pidfile program
    local pid
    pid=$(cat "$1" 2>/dev/null || true)
    alive "$pid" "$2" || return 0
    kill -TERM "$pid"
    for _ in $(seq 1 50); do alive "$pid" "$2" || return 0; sleep 0.2; done
    echo "cluster.sh: $2 ($pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

munge_works() { timeout 5 munge -n </dev/null 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return 0
    fi
    command -v apt-get >/dev/null || die "Slurm is not installed and there is no apt-get to install it"
    echo "cluster.sh: installing slurm-wlm and munge" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >&2 || { apt-get update -q >&2 && apt-get install -y -q slurm-wlm munge >&2; } \
        || die "apt-get install slurm-wlm munge failed"
}

start_munge() {
    if munge_works; then return 0; fi   # a munged already serves this host: use it, leave it running
    [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create >&2 || die "no munge key"
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- munged || die "munged did not start"
    for _ in $(seq 1 50); do munge_works && break; sleep 0.2; done
    munge_works || die "munged started but munge -n | unmunge fails"
    cp /run/munge/munged.pid "$dir/munged.pid"   # ours to stop
}

write_config() {
    local host node
    host=$(hostname -s)
    node=$(slurmd -C | head -n 1)   # NodeName=<host> CPUs=... RealMemory=...
    mkdir -p "$dir/state" "$dir/spool" "$dir/bin"
    printf '#!/bin/sh\nSLURM_CONF='\''%s'\'' exec '\''%s'\'' "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$dir/bin/srun"
    chmod +x "$dir/bin/srun"
    cat >"$SLURM_CONF" <<CONF
# Written by tests/slurm/cluster.sh: a one-node cluster for the tests.
ClusterName=recinfluence-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
MpiDefault=none
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

node_state() { timeout 5 sinfo -h -o %t 2>/dev/null | head -n 1 || true; }

cannot() { echo "cluster.sh: $*" >&2; exit 3; }

start() {
    [ "$(id -u)" -eq 0 ] || cannot "must run as root (installs packages, starts daemons)"
    local running="" f pid
    for f in /proc/[0-9]*/comm; do   # (no pgrep: procps may be missing on a fresh machine)
        pid=${f#/proc/}; pid=${pid%/comm}
        case "$(cat "$f" 2>/dev/null)" in
            slurmctld | slurmd) grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null || running+="$pid " ;;
        esac
    done
    [ -z "$running" ] || cannot "a Slurm daemon already runs on this host (pid $running); stop it first"
    install_packages
    trap stop EXIT   # whatever fails from here on, stop what was started
    start_munge
    write_config
    slurmctld || die "slurmctld did not start (see $dir/slurmctld.log)"
    slurmd || die "slurmd did not start (see $dir/slurmd.log)"
    local state=""
    for _ in $(seq 1 60); do
        state=$(node_state)
        [ "$state" = idle ] && break
        sleep 1
    done
    if [ "$state" != idle ]; then
        echo "cluster.sh: node not idle after 60 s (state '$state'); last log lines:" >&2
        tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
        exit 1
    fi
    trap - EXIT
    echo "cluster.sh: one-node Slurm cluster up (partition debug); config $SLURM_CONF" >&2
    echo "export SLURM_CONF=$SLURM_CONF PATH=$dir/bin:\$PATH"
}

stop() {
    if alive "$(cat "$dir/slurmctld.pid" 2>/dev/null || true)" slurmctld; then
        timeout 10 scancel --partition=debug 2>/dev/null || true
        for _ in $(seq 1 20); do   # let cancelled jobs end before their slurmd goes
            [ -z "$(timeout 5 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    stop_pid "$dir/slurmd.pid" slurmd
    stop_pid "$dir/slurmctld.pid" slurmctld
    if [ -f "$dir/munged.pid" ]; then
        stop_pid "$dir/munged.pid" munged
        rm -f "$dir/munged.pid"
    fi
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
