#!/usr/bin/env bash
# slurm.sh start|stop|status: a one-node Slurm cluster with slurmdbd/MariaDB accounting, for the
# cluster tests (tests/cluster/test_slurm.py). Recipe: /work/shared/design/single-node-slurm.md.
# Debian 12, as root, without systemd: the daemons are run directly. Configs go to /etc/slurm only.
# Exit 77 with a one-line reason on stderr when this machine cannot host the cluster (callers skip).
set -uo pipefail

CLUSTER=localcluster
ACCOUNT=testacct
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
DBPASS=slurmdbpass
# pidfiles in stop order (the reverse of the start order)
PIDFILES=(/run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/slurm/slurmdbd.pid
  /run/mysqld/mysqld.pid /run/munge/munged.pid)

cannot() { echo "slurm.sh: cannot run a test cluster: $*" >&2; exit 77; }
die() { echo "slurm.sh: $*" >&2; exit 1; }
log() { echo "slurm.sh: $*" >&2; }

# wait_for TIMEOUT_S WHAT CMD...: run CMD every 0.2 s until it succeeds, or fail after TIMEOUT_S
wait_for() {
  local timeout=$1 what=$2; shift 2
  local tries=$((timeout * 5))
  for ((i = 0; i < tries; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$what not ready after ${timeout} s (logs: /var/log/slurm/, /var/log/mysql/)"
}

node_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ]; }
munge_ok() { munge -n | unmunge; }

# stop_pidfile FILE: TERM the daemon named in FILE and wait (up to 30 s) until it is gone
stop_pidfile() {
  local file=$1 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid ($file) still running 30 s after SIGTERM"; return 1
    fi
  fi
  rm -f "$file"
}

do_stop() {
  local rc=0 f
  for f in "${PIDFILES[@]}"; do stop_pidfile "$f" || rc=1; done
  return $rc
}

# remove_configs: the configs write_configs wrote (marked on their first line). A slurm.conf left
# behind names a controller that is gone, and every `scontrol` then waits 9 s for it; the Slurm
# executor plugin runs one whenever Snakemake starts, so every later build paid those 9 s.
remove_configs() {
  local f
  for f in /etc/slurm/slurm.conf /etc/slurm/slurmdbd.conf; do
    if [ -f "$f" ] && head -n 1 "$f" | grep -q "written by tests/cluster/slurm.sh"; then
      rm -f "$f"
    fi
  done
  return 0
}

do_status() {
  local rc=0 f pid
  for f in "${PIDFILES[@]}"; do
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "running  $(basename "$f" .pid) (pid $pid)"
    else
      echo "stopped  $(basename "$f" .pid)"; rc=3
    fi
  done
  [ $rc = 0 ] && echo "node: $(sinfo -h -N -o %T 2>/dev/null)"
  return $rc
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  command -v apt-get >/dev/null || cannot "no apt-get to install ${missing[*]}"
  log "installing ${missing[*]} (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
    >/tmp/slurm-sh-apt.log 2>&1 || cannot "apt-get install ${missing[*]} failed (/tmp/slurm-sh-apt.log)"
}

write_configs() {
  local host mem detected
  host=$(hostname -s)
  mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 2048))
  detected=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [ -n "$detected" ] && [ "$mem" -gt "$detected" ] && mem=$detected
  [ "$mem" -gt 0 ] || cannot "too little memory for a Slurm node (MemTotal - 2048 MB <= 0)"
  mkdir -p /etc/slurm
  cat >/etc/slurm/slurm.conf <<EOF
# written by tests/cluster/slurm.sh (single-node test cluster)
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
MailProg=/bin/true
AuthType=auth/munge
SlurmUser=slurm
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmdbd refuses a config not owned by SlurmUser or not mode 0600
  (umask 077 && cat >/etc/slurm/slurmdbd.conf <<EOF
# written by tests/cluster/slurm.sh (single-node test cluster)
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=slurm
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
EOF
  )
  chown slurm:slurm /etc/slurm/slurmdbd.conf
  chmod 0600 /etc/slurm/slurmdbd.conf
  mkdir -p /run/slurm /run/munge /run/mysqld /var/log/slurm /var/lib/slurm/slurmctld \
    /var/lib/slurm/slurmd
  chown slurm:slurm /run/slurm /var/log/slurm /var/lib/slurm/slurmctld
  chown munge:munge /run/munge
  chown mysql:mysql /run/mysqld
}

do_start() {
  [ "$(id -u)" = 0 ] || cannot "not root (the daemons and /etc/slurm need root)"
  install_packages
  getent passwd slurm munge mysql >/dev/null || cannot "users slurm/munge/mysql missing after install"
  do_stop || die "could not stop the daemons of an earlier run"  # they hold ports 6817-6819, 3306
  write_configs

  runuser -u munge -- /usr/sbin/munged || die "munged failed to start"
  wait_for 10 munged munge_ok

  /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
    >>/var/log/slurm/mariadbd.out 2>&1 </dev/null &
  disown
  wait_for 30 mariadbd mysqladmin ping
  mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;" \
    || die "could not create the accounting database"

  slurmdbd || die "slurmdbd failed to start"
  wait_for 30 slurmdbd sacctmgr -n list cluster
  # each may already exist on a restart
  sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
  sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=test Organization=test \
    >/dev/null 2>&1 || true
  sacctmgr -i add user root Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true
  sacctmgr -n -P list assoc user=root account="$ACCOUNT" format=account | grep -qx "$ACCOUNT" \
    || die "no association root/$ACCOUNT in slurmdbd"

  slurmctld || die "slurmctld failed to start"
  wait_for 30 slurmctld scontrol ping
  slurmd || die "slurmd failed to start"
  wait_for 30 "slurmd (node idle)" node_idle
  log "cluster $CLUSTER up: partition debug, account $ACCOUNT"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop; rc=$?; remove_configs; exit $rc ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
