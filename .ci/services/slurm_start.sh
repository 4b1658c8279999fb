#!/usr/bin/env bash
# Single-node Slurm (munge + slurmctld + slurmd) bound to loopback. State under $SERVICES_DIR/slurm.
set -euo pipefail
D="${SERVICES_DIR:-/tmp/pipeline-services}/slurm"
mkdir -p $D/state $D/spool $D/log
install -d -o munge -g munge -m 0755 /run/munge
[ -s /etc/munge/munge.key ] || { mungekey -c -k /etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
[ -f /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null || runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
cat > $D/slurm.conf <<CONF
ClusterName=scale
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
/usr/sbin/slurmctld -f $D/slurm.conf
/usr/sbin/slurmd -f $D/slurm.conf -N localhost
for i in $(seq 1 100); do
  if sinfo -h -o %t 2>/dev/null | grep -qE '^idle'; then echo "slurm ready after ${i}x0.1s"; exit 0; fi
  sleep 0.1
done
echo "slurm not ready"; sinfo || true; tail -20 $D/log/*.log; exit 1
